import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
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
  // Checking a schema against the JSON Schema meta-schema compiles the meta-schema first, a
  // cost the first request would pay. The schemas are the code's own (TypeBox): the test that
  // compiles every route's schemas checks them against it instead (`compilePending`).
  validateSchema: false,
};

/** Marks a body schema as an upload: documented, but read and checked by the route itself. */
export const UPLOAD_MARK = 'x-upload';

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;
type Validate = ((data: unknown, context?: object) => boolean) & { errors?: unknown; schemaEnv?: unknown };
type Serialize = (doc: unknown) => string;

export interface SchemaCompilers {
  /** For Fastify's `schemaController.compilersFactory` option. */
  factory: CompilersFactory;
  /**
   * Compiles every schema no request has used yet, each request schema checked against the JSON
   * Schema meta-schema first (throws on the first that fails); returns how many. For tests.
   */
  compilePending(): number;
}

/**
 * How route schemas become validators and serializers. Both compile on a route's first use,
 * not when the app starts: the app has some 150 routes with a validator per request part and a
 * serializer per response status, and compiling them all (Ajv, fast-json-stringify) was the
 * largest share of a start. Once compiled, a function is kept, and the result is the same
 * function the eager compilers made: same errors, same output. A schema that cannot compile
 * fails its route's first request (500) instead of the start, so a test compiles them all.
 *
 * Two validators: query strings, path parameters and headers arrive as text, so they are
 * coerced to their schema types (and a repeated parameter becomes an array); JSON bodies are
 * already typed, so they are validated as sent: `"title": 7` is a 400, not the string "7".
 * Serializers are Fastify's own (fast-json-stringify), one per distinct schema object: every
 * route's problem+json answers share one.
 */
export function schemaCompilers(): SchemaCompilers {
  const pending = new Set<() => void>();
  let checkSchemas = false;
  let bodies: Ajv | undefined;
  let textParts: Ajv | undefined;
  const ajvFor = (httpPart: string | undefined): Ajv => {
    if (httpPart === 'body') {
      bodies ??= addFormats(new Ajv({ ...BASE, coerceTypes: false }));
      return bodies;
    }
    textParts ??= addFormats(new Ajv({ ...BASE, coerceTypes: 'array' }));
    return textParts;
  };

  const validatorCompiler = ({ schema, httpPart }: { schema: unknown; httpPart?: string }): Validate => {
    // A file streamed to disk by its handler, which checks it there (size, type by its bytes).
    if (httpPart === 'body' && (schema as { [UPLOAD_MARK]?: boolean })[UPLOAD_MARK]) return () => true;
    let validate: Validate | undefined;
    const compile = () => {
      pending.delete(compile);
      const ajv = ajvFor(httpPart);
      if (checkSchemas) ajv.validateSchema(schema as object, true);
      validate ??= ajv.compile(schema as object) as Validate;
      return validate;
    };
    pending.add(compile);
    const lazy: Validate = (data, context) => {
      const compiled = validate ?? compile();
      const valid = compiled(data, context);
      lazy.errors = compiled.errors;
      return valid;
    };
    // Fastify hands Ajv's functions (they carry `schemaEnv`) the request as parent, so that
    // a coerced or defaulted root value replaces the original; this one passes it on.
    lazy.schemaEnv = true;
    return lazy;
  };

  const buildSerializer = (externalSchemas?: unknown, options?: SerializerSelector.Options) => {
    const compileWith = SerializerSelector()(externalSchemas, options);
    const bySchema = new WeakMap<object, Serialize>();
    return (route: SerializerSelector.RouteDefinition): Serialize => {
      const schema = route.schema;
      const key = typeof schema === 'object' && schema !== null ? schema : undefined;
      let serialize = key && bySchema.get(key);
      if (serialize) return serialize;
      const compile = () => {
        pending.delete(compile);
        serialize ??= compileWith(route);
        return serialize;
      };
      pending.add(compile);
      const lazy: Serialize = (doc) => (serialize ?? compile())(doc);
      if (key) bySchema.set(key, lazy);
      return lazy;
    };
  };

  return {
    factory: { buildValidator: () => validatorCompiler as never, buildSerializer: buildSerializer as never },
    compilePending() {
      checkSchemas = true;
      let count = 0;
      for (const compile of [...pending]) {
        compile();
        count++;
      }
      return count;
    },
  };
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
