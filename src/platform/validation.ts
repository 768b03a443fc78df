import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const BASE: Options = {
  // Unknown fields fail validation instead of being silently dropped (no mass assignment).
  removeAdditional: false,
  useDefaults: true,
  // One error per request: allErrors opens a denial-of-service hole on large inputs.
  allErrors: false,
  addUsedSchema: false,
};

/** Marks a body schema as an upload: documented, but read and checked by the route itself. */
export const UPLOAD_MARK = 'x-upload';

/**
 * Two validators: query strings, path parameters and headers arrive as text, so they are
 * coerced to their schema types (and a repeated parameter becomes an array); JSON bodies are
 * already typed, so they are validated as sent: `"title": 7` is a 400, not the string "7".
 */
export function registerValidation(app: FastifyInstance): void {
  const bodies = addFormats(new Ajv({ ...BASE, coerceTypes: false }));
  const textParts = addFormats(new Ajv({ ...BASE, coerceTypes: 'array' }));
  app.setValidatorCompiler(({ schema, httpPart }) => {
    // A file streamed to disk by its handler, which checks it there (size, type by its bytes).
    if (httpPart === 'body' && (schema as { [UPLOAD_MARK]?: boolean })[UPLOAD_MARK]) return () => true;
    return (httpPart === 'body' ? bodies : textParts).compile(schema as object);
  });
}
