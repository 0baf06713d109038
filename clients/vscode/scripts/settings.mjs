// The extension's `tandem.*` settings come from the server's schema (server/tandem.schema.json):
// objects with fixed keys become dotted names (tandem.inline.maxTokens), maps and lists stay one
// setting (tandem.backends), and each setting keeps the server's JSON schema unchanged.
// The keys that decide where code goes or what is recorded are user-level only: `scope: "machine"`
// (VS Code ignores their values in .vscode/settings.json and *.code-workspace files) and listed in
// Workspace Trust's restrictedConfigurations. A repository tightens those through tandem.json.
// `node scripts/settings.mjs` rewrites package.json; test/clients/vscode.test.ts checks they agree.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Top-level sections of the server's schema that only the user may set (the contract's trust boundary). */
export const USER_ONLY_SECTIONS = ['backends', 'routes', 'privacy', 'audit', 'budget'];

export function settingsFromSchema(schema) {
  const settings = {};
  const walk = (node, key) => {
    if (node.type === 'object' && node.properties) {
      for (const [name, child] of Object.entries(node.properties)) walk(child, `${key}.${name}`);
    } else {
      const section = key.split('.')[1];
      settings[key] = USER_ONLY_SECTIONS.includes(section) ? { ...structuredClone(node), scope: 'machine' } : structuredClone(node);
    }
  };
  walk(schema, 'tandem');
  return settings;
}

/** `capabilities.untrustedWorkspaces`: the extension runs in Restricted Mode without the repository's values of these keys. */
export function untrustedWorkspaces(settings) {
  return {
    supported: 'limited',
    description: 'In Restricted Mode the workspace cannot choose model servers, routes, privacy, audit or budget settings; only your user settings decide where code goes.',
    restrictedConfigurations: Object.keys(settings).filter((key) => settings[key].scope === 'machine'),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const here = dirname(fileURLToPath(import.meta.url));
  const schema = JSON.parse(readFileSync(join(here, '../../../server/tandem.schema.json'), 'utf8'));
  const pkgPath = join(here, '../package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  const settings = settingsFromSchema(schema);
  pkg.contributes.configuration.properties = settings;
  pkg.capabilities = { ...pkg.capabilities, untrustedWorkspaces: untrustedWorkspaces(settings) };
  writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n');
  console.log(`wrote ${Object.keys(settings).length} settings to ${pkgPath}`);
}
