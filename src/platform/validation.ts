import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { ValidationError } from './errors.js';

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

/** Deepest nesting of arrays and objects a JSON body may have; real requests use three or four. */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether JSON text nests arrays and objects deeper than `max`, found in one pass without
 * parsing. Deep values are cheap to send and expensive to handle: anything that walks them
 * recursively (serialising, validating) can overflow the stack.
 */
export function jsonNestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c)
        i++; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b || char === 0x7b) {
      if (++depth > max) return true;
    } else if (char === 0x5d || char === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * JSON bodies through Fastify's own parser (prototype poisoning refused), after a nesting
 * check that answers 400 JSON_TOO_DEEP before anything is parsed.
 */
export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonNestedDeeperThan(body as string, MAX_JSON_DEPTH)) {
      const message = `nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`;
      done(new ValidationError(`The body ${message}`, [{ path: '', message }], 'JSON_TOO_DEEP'), undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
