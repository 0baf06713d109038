// Bundles the extension and vscode-languageclient into dist/extension.js (CommonJS, as VS Code loads it).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ext = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildExtension(outfile = join(ext, 'dist/extension.js')) {
  await build({
    entryPoints: [join(ext, 'src/extension.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildExtension();
