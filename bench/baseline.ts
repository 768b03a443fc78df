/**
 * The baseline: a bare node:http server that answers every request with one recorded response
 * (status, headers and body bytes of Backbeat's cached album page). What it serves under the
 * load suite's settings is what this machine can serve at all; Backbeat is reported against it.
 *   node --import tsx bench/baseline.ts <response.json> <port>
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  /** Base64 of the body bytes. */
  body: string;
}

const [file, port] = process.argv.slice(2);
if (!file || !port) {
  process.stderr.write('usage: baseline.ts <response.json> <port>\n');
  process.exit(1);
}
const recorded = JSON.parse(readFileSync(file, 'utf8')) as RecordedResponse;
const body = Buffer.from(recorded.body, 'base64');

const server = createServer((request, response) => {
  // Drain any request body so keep-alive connections stay usable.
  request.resume();
  response.writeHead(recorded.status, recorded.headers);
  response.end(body);
});
server.keepAliveTimeout = 72_000;
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
