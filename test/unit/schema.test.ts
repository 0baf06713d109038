// The committed JSON Schema for editors is the one the zod schema generates, and documents every setting.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jsonSchema } from '../../server/src/config/schema.js';

const FILE = new URL('../../server/tandem.schema.json', import.meta.url);
const REGENERATE = 'server/tandem.schema.json is out of date: run `npm run schema` (npx tsc -p tsconfig.json && node server/out/config/emitSchema.js > server/tandem.schema.json) and commit the file';

/** Every `properties` entry anywhere in the schema, with its JSON path. */
function properties(node: unknown, path = '#'): [string, Record<string, unknown>][] {
  if (Array.isArray(node)) return node.flatMap((n, i) => properties(n, `${path}/${i}`));
  if (!node || typeof node !== 'object') return [];
  const out: [string, Record<string, unknown>][] = [];
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties' && v && typeof v === 'object') {
      for (const [name, prop] of Object.entries(v)) out.push([`${path}/properties/${name}`, prop as Record<string, unknown>]);
    }
    out.push(...properties(v, `${path}/${k}`));
  }
  return out;
}

describe('server/tandem.schema.json', () => {
  it('equals jsonSchema() from server/src/config/schema.ts', () => {
    const committed: unknown = JSON.parse(readFileSync(FILE, 'utf8'));
    expect(committed, REGENERATE).toEqual(jsonSchema());
  });

  const props = properties(jsonSchema());

  it('has the settings of the contract', () => {
    const names = props.map(([p]) => p);
    for (const p of [
      '#/properties/backends',
      '#/properties/backends/additionalProperties/properties/apiKeyEnv',
      '#/properties/backends/additionalProperties/properties/fim',
      '#/properties/routes/properties/multiFile',
      '#/properties/privacy/properties/onPremOnly',
      '#/properties/inline/properties/debounceMs',
    ]) {
      expect(names).toContain(p);
    }
    // A walk that found nothing would make the next test pass vacuously.
    expect(props.length).toBeGreaterThan(25);
  });

  it.each(props)('%s has a description', (_path, prop) => {
    expect(typeof prop.description).toBe('string');
    expect((prop.description as string).trim()).not.toBe("");
  });

  it('rejects unknown keys, like the loader does', () => {
    const s = jsonSchema() as { additionalProperties?: unknown; properties: { backends: { additionalProperties: { additionalProperties?: unknown } } } };
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.backends.additionalProperties.additionalProperties).toBe(false);
  });
});
