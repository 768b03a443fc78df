// The search index's worker thread when the server runs from its TypeScript sources (tests,
// `tsx`): a worker does not inherit the tsx loader, so it registers it before loading the
// worker's module. A build runs the compiled search-worker.js instead (see search-index.ts).
import { register } from 'tsx/esm/api';

register();
await import('./search-worker.ts');
