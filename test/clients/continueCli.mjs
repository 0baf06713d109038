// The Continue CLI (`cn`, npm package @continuedev/cli), a real chat client for
// test/e2e/serveContinue.test.ts: installed from the npm registry once per version into a cache
// outside the repository (as codeServer.mjs does for code-server). `node test/clients/continueCli.mjs`
// installs it; the test calls `install()` itself and skips, saying why, when the registry cannot be
// reached.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot } from './codeServer.mjs';

export const CONTINUE_CLI_VERSION = '1.5.47';

export function installDir() {
  return join(cacheRoot(), `continue-cli-${CONTINUE_CLI_VERSION}`);
}

const failureFile = () => `${installDir()}.failed`;
const doneFile = () => join(installDir(), 'installed');

/** `{ entry }` (run `node entry ...`), or `{ missing }`: a sentence saying why it is not installed. */
export function continueCli() {
  const dir = installDir();
  if (existsSync(doneFile())) return { entry: join(dir, 'node_modules/@continuedev/cli/dist/cn.js') };
  if (existsSync(failureFile())) return { missing: `@continuedev/cli ${CONTINUE_CLI_VERSION} could not be installed in ${dir}:\n${readFileSync(failureFile(), 'utf8')}` };
  return { missing: `@continuedev/cli ${CONTINUE_CLI_VERSION} is not installed in ${dir}: run \`node test/clients/continueCli.mjs\`` };
}

/**
 * Installs the CLI unless it is there; returns the same as `continueCli()`. A failed install is
 * remembered (the `.failed` file) for `retryAfterMs`, so a machine without the registry does not
 * try again in every run.
 */
export function install({ retryAfterMs = 60 * 60 * 1000 } = {}) {
  if (existsSync(doneFile())) return continueCli();
  const dir = installDir();
  if (existsSync(failureFile())) {
    const age = Date.now() - Number(spawnSync('stat', ['-c', '%Y', failureFile()], { encoding: 'utf8' }).stdout.trim()) * 1000;
    if (age < retryAfterMs) return continueCli();
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(failureFile(), { force: true });
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true }));
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', `@continuedev/cli@${CONTINUE_CLI_VERSION}`], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28, timeout: 10 * 60 * 1000 });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    writeFileSync(join(dir, 'install.log'), out);
    if (r.status !== 0) {
      const tail = out.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn')).slice(-15).join('\n');
      throw new Error(`npm install @continuedev/cli@${CONTINUE_CLI_VERSION} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
    }
    const entry = join(dir, 'node_modules/@continuedev/cli/dist/cn.js');
    const v = spawnSync(process.execPath, [entry, '--version'], { encoding: 'utf8', env: { ...process.env, HOME: join(dir, 'home') }, timeout: 60_000 });
    if (!`${v.stdout}`.includes(CONTINUE_CLI_VERSION)) throw new Error(`cn --version printed ${JSON.stringify(`${v.stdout ?? ''}${v.stderr ?? ''}`.slice(0, 2000))}`);
    writeFileSync(doneFile(), `@continuedev/cli ${CONTINUE_CLI_VERSION}\n`);
    return continueCli();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(failureFile(), `${err instanceof Error ? err.message : String(err)}\n`);
    return continueCli();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cached = existsSync(doneFile());
  const started = Date.now();
  const r = install({ retryAfterMs: 0 });
  if (r.missing) {
    console.error(r.missing);
    process.exit(1);
  }
  console.log(`@continuedev/cli ${CONTINUE_CLI_VERSION}: ${cached ? 'cached' : `installed in ${Math.round((Date.now() - started) / 1000)} s`} at ${installDir()}`);
}
