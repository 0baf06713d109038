// The extension's `tandem.*` settings come from the server's schema (server/tandem.schema.json):
// objects with fixed keys become dotted names (tandem.inline.maxTokens), maps and lists stay one
// setting (tandem.backends), and each setting keeps the server's JSON schema unchanged.
// `node scripts/settings.mjs` rewrites package.json; test/clients/vscode.test.ts checks they agree.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function settingsFromSchema(schema) {
  const settings = {};
  const walk = (node, key) => {
    if (node.type === 'object' && node.properties) {
      for (const [name, child] of Object.entries(node.properties)) walk(child, `${key}.${name}`);
    } else {
      settings[key] = structuredClone(node);
    }
  };
  walk(schema, 'tandem');
  return settings;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const here = dirname(fileURLToPath(import.meta.url));
  const schema = JSON.parse(readFileSync(join(here, '../../../server/tandem.schema.json'), 'utf8'));
  const pkgPath = join(here, '../package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  pkg.contributes.configuration.properties = settingsFromSchema(schema);
  writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n');
  console.log(`wrote ${Object.keys(pkg.contributes.configuration.properties).length} settings to ${pkgPath}`);
}
