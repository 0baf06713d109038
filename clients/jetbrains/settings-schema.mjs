// Writes tandem/settings.schema.json: LSP4IJ validates the Configuration tab (settings.json) with
// it. The template declares experimental.tandem.scopedSettings, so the server reads the `tandem`
// section's `user` object as the user's own settings: that object is the server's own schema.
// test/clients/jetbrains.test.ts fails while they differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function settingsSchema(serverSchema) {
  const { $schema, title, ...section } = serverSchema;
  return {
    $schema,
    title: 'tandem (LSP4IJ settings)',
    type: 'object',
    properties: {
      tandem: {
        type: 'object',
        description: "tandem's settings. `user`: yours, as in ~/.config/tandem/config.json (LSP4IJ keeps this tab at application level, never in a project).",
        properties: { user: section },
        additionalProperties: false,
      },
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = JSON.parse(readFileSync(join(here, '../../server/tandem.schema.json'), 'utf8'));
  writeFileSync(join(here, 'tandem/settings.schema.json'), JSON.stringify(settingsSchema(server), null, 2) + '\n');
}
