import fc from 'fast-check';

/**
 * fast-check arbitraries from the JSON Schemas in `openapi.json` (OpenAPI 3.1, so plain JSON
 * Schema): `valid` makes values the schema accepts, `invalid` values it probably rejects
 * (wrong types, a missing required field, an unknown field, out-of-range numbers, junk).
 */
// biome-ignore lint/suspicious/noExplicitAny: JSON Schema objects are walked generically.
export type Schema = Record<string, any>;

const FORMATS: Record<string, () => fc.Arbitrary<string>> = {
  uuid: () => fc.uuid(),
  date: () =>
    fc
      .date({ min: new Date('1900-01-01'), max: new Date('2100-12-31'), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10)),
  'date-time': () => fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  email: () => fc.emailAddress(),
  uri: () => fc.webUrl(),
};

function text(schema: Schema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.min(schema.maxLength ?? 40, minLength + 40);
  const pattern = schema.pattern ? new RegExp(schema.pattern, 'u') : undefined;
  const fits = (s: string) => s.length >= minLength && s.length <= maxLength && (!pattern || pattern.test(s));
  // A pattern random text rarely matches (a URL, a list of words) is generated from the
  // pattern itself; fast-check cannot generate lookaheads, but random text matches those.
  if (pattern && !schema.pattern.includes('(?')) return fc.stringMatching(pattern).filter(fits);
  const raw = fc.oneof(
    { weight: 3, arbitrary: fc.string({ minLength, maxLength }) },
    { weight: 1, arbitrary: fc.string({ minLength, maxLength, unit: 'grapheme' }) },
  );
  return pattern ? raw.filter(fits) : raw;
}

export function valid(schema: Schema): fc.Arbitrary<unknown> {
  if ('const' in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf || schema.oneOf) return fc.oneof(...(schema.anyOf ?? schema.oneOf).map(valid));
  switch (schema.type) {
    case 'string':
      return schema.format && FORMATS[schema.format] ? FORMATS[schema.format]!() : text(schema);
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 100_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 100_000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = schema.items ? valid(schema.items) : fc.jsonValue();
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.min(schema.maxItems ?? 5, minLength + 5);
      return schema.uniqueItems
        ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(items, { minLength, maxLength });
    }
    case 'object':
      return object(schema);
    default:
      return fc.jsonValue();
  }
}

function object(schema: Schema): fc.Arbitrary<Record<string, unknown>> {
  const properties: Record<string, Schema> = schema.properties ?? {};
  const required: string[] = schema.required ?? [];
  const record = fc.record(
    Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, valid(s)])),
    { requiredKeys: required.filter((name) => name in properties) },
  );
  const min = schema.minProperties ?? 0;
  return min ? record.filter((r) => Object.keys(r).length >= min) : record;
}

/** Values the schema most likely rejects; the server must still answer with a 4xx problem. */
export function invalid(schema: Schema): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [fc.jsonValue(), fc.string(), fc.constant(null)];
  if (schema.type === 'object' && schema.properties) {
    const base = object(schema);
    options.push(
      base.map((r) => ({ ...r, unexpectedField: 1 })),
      ...(schema.required ?? []).map((name: string) =>
        base.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== name))),
      ),
      fc
        .tuple(base, fc.constantFrom(...Object.keys(schema.properties)), fc.jsonValue())
        .map(([r, key, value]) => ({ ...r, [key]: value })),
    );
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    options.push(fc.constantFrom((schema.minimum ?? 0) - 1, (schema.maximum ?? 1e9) + 1, 1.5, '12abc'));
  }
  if (schema.type === 'string') {
    options.push(
      fc.string({ minLength: (schema.maxLength ?? 1000) + 1, maxLength: (schema.maxLength ?? 1000) + 3 }),
    );
    options.push(fc.constantFrom('', '\u0000', ' ', '%', 'not-a-uuid', "'; drop table users; --"));
  }
  return fc.oneof(...options);
}
