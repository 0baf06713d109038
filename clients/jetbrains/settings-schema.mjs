// Writes tandem/settings.schema.json: LSP4IJ validates the Configuration tab (settings.json,
// whose `tandem` key is the server's section) with it. The `tandem` part is the server's own
// schema; test/clients/jetbrains.test.ts fails while they differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function settingsSchema(serverSchema) {
  const { $schema, title, ...section } = serverSchema;
  return { $schema, title: 'tandem (LSP4IJ settings)', type: 'object', properties: { tandem: section } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = JSON.parse(readFileSync(join(here, '../../server/tandem.schema.json'), 'utf8'));
  writeFileSync(join(here, 'tandem/settings.schema.json'), JSON.stringify(settingsSchema(server), null, 2) + '\n');
}
