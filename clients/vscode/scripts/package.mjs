// Builds dist/tandem-vscode-<target>-<version>.vsix offline: bundles the extension, stages the
// built server with its production dependencies under server/ (tree-sitter's N-API addons for
// that one target only), and runs vsce. Usage:
//   node scripts/package.mjs [--target linux-x64|linux-arm64|darwin-x64|darwin-arm64|win32-x64|win32-arm64|all] [--out-dir DIR]
// The default target is this machine's, the default DIR is dist/. The server must be built first (`npm run build` at the root).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExtension } from './build.mjs';

const ext = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(ext, '../..');
const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];

function fail(message) {
  console.error(`package:vscode: ${message}`);
  process.exit(2);
}

/** The root package's production dependencies, as installed (npm ls reads node_modules, no network). */
function productionPackages() {
  // npm ls exits 1 on extraneous or missing packages but still lists what is installed.
  // Under `npm run`, npm_execpath names npm's own script (no shell needed on Windows).
  const npmCli = process.env.npm_execpath?.endsWith('.js') ? [process.execPath, process.env.npm_execpath] : ['npm'];
  const args = [...npmCli.slice(1), 'ls', '--omit=dev', '--all', '--parseable'];
  const ls = spawnSync(npmCli[0], args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  const out = ls.stdout ?? '';
  if (!out.trim()) fail(`npm ls found no installed dependencies: run npm ci at the repository root (${ls.stderr?.trim() ?? ''})`);
  const dirs = out.split('\n').map((l) => l.trim()).filter((l) => l && l !== root && l.includes(`${sep}node_modules${sep}`)).sort();
  // A nested node_modules travels with its parent package's copy.
  return dirs.filter((d, i) => !dirs.slice(0, i).some((p) => d.startsWith(p + sep)));
}

/** What of a dependency goes into the .vsix: runtime files only, and one target's prebuilt addons. */
function runtimeFile(target) {
  // An addon compiled here at install time (build/Release) is linked against this machine's
  // libstdc++; upstream's linux prebuilds of tree-sitter need GLIBCXX_3.4.31 (GCC 13), which
  // Debian 12 and Ubuntu 22.04 lack. For this machine's own target the local build goes in, and
  // node-gyp-build prefers it over prebuilds/.
  const localBuild = target === `${process.platform}-${process.arch}`;
  return (src) => {
    const name = basename(src);
    if (/\.(map|ts|mts|cts|c|cc|cpp|h|hpp|gyp|gypi|wasm|o|a|obj|lib|pdb|tsbuildinfo)$/i.test(name)) return false;
    const parts = src.split(sep);
    const pkgIndex = parts.lastIndexOf('node_modules') + 1;
    const pkg = parts[pkgIndex]?.startsWith('@') ? parts.slice(pkgIndex, pkgIndex + 2).join('/') : parts[pkgIndex];
    const inner = parts.slice(pkgIndex + (pkg?.includes('/') ? 2 : 1));
    if (pkg?.startsWith('tree-sitter')) {
      // Sources, build outputs and other platforms' addons are not needed at run time.
      if (inner[0] === 'build') return localBuild && (inner.length === 1 || (inner[1] === 'Release' && (inner.length === 2 || (inner.length === 3 && name.endsWith('.node')))));
      if (['vendor', 'queries', 'common', 'test', 'script'].includes(inner[0] ?? '')) return false;
      if (inner[0] === 'bindings' && inner.length >= 2 && inner[1] !== 'node') return false;
      if (inner[0] === 'prebuilds' && inner.length >= 2 && inner[1] !== target) return false;
      if (inner.includes('src') && inner.length > inner.indexOf('src') + 1 && inner[inner.length - 1] !== 'node-types.json') return false;
      if (name === 'grammar.js' || name === 'binding_test.js') return false;
    }
    return true;
  };
}

function stageServer(staged, target) {
  mkdirSync(staged, { recursive: true });
  cpSync(join(root, 'server/bin'), join(staged, 'bin'), { recursive: true });
  cpSync(join(root, 'server/out'), join(staged, 'out'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  cpSync(join(root, 'server/tandem.schema.json'), join(staged, 'tandem.schema.json'));
  // The server reads its version from ../../package.json (relative to server/out/): this copy.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  writeFileSync(join(staged, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, type: pkg.type, license: pkg.license, private: true }, null, 2) + '\n');
  const keep = runtimeFile(target);
  for (const dir of productionPackages()) {
    // From the first node_modules on: npm may print real paths when node_modules is a link.
    cpSync(dir, join(staged, dir.slice(dir.indexOf(`${sep}node_modules${sep}`) + 1)), { recursive: true, filter: keep });
  }
  for (const addon of ['tree-sitter', 'tree-sitter-python']) {
    if (!existsSync(join(staged, 'node_modules', addon, 'prebuilds', target))) fail(`${addon} has no prebuilt addon for ${target}`);
  }
}

/**
 * Packages one target from a staging folder of its own (the manifest, README, the bundle and the
 * server), so that two packagings at once (two test files, say) never share a file; the .vsix is
 * written beside `out` and renamed onto it, so a reader never sees half of one.
 */
async function packageTarget(target, out) {
  if (!TARGETS.includes(target)) fail(`unknown target ${target}; one of ${TARGETS.join(', ')} or all`);
  mkdirSync(dirname(out), { recursive: true });
  const stage = mkdtempSync(join(dirname(out), '.stage-'));
  try {
    for (const f of ['package.json', 'README.md', '.vscodeignore']) cpSync(join(ext, f), join(stage, f));
    await buildExtension(join(stage, 'dist/extension.js'));
    stageServer(join(stage, 'server'), target);
    const partial = join(stage, basename(out));
    const vsce = join(ext, 'node_modules/@vscode/vsce/vsce');
    // --no-dependencies: the extension is bundled; the server's node_modules are staged above.
    execFileSync(process.execPath, [vsce, 'package', '--target', target, '--no-dependencies', '--skip-license', '--allow-missing-repository', '--no-update-package-json', '--out', partial], {
      cwd: stage,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    renameSync(partial, out);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return out;
}

const option = (name) => {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (!v || v.startsWith('--')) fail(`${name} needs a value`);
  return v;
};
const wanted = option('--target') ?? `${process.platform}-${process.arch}`;
const outDir = resolve(option('--out-dir') ?? join(ext, 'dist'));
if (!existsSync(join(root, 'server/out/cli/main.js'))) fail('the server is not built: run `npm run build` at the repository root');
if (!existsSync(join(ext, 'node_modules/@vscode/vsce'))) fail('the extension has no dependencies installed: run `npm ci --prefix clients/vscode`');
const version = JSON.parse(readFileSync(join(ext, 'package.json'), 'utf8')).version;
for (const target of wanted === 'all' ? TARGETS : [wanted]) console.log(await packageTarget(target, join(outDir, `tandem-vscode-${target}-${version}.vsix`)));
