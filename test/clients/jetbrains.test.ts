// clients/jetbrains: the LSP4IJ user-defined server template parses as LSP4IJ reads it, keeps every
// setting in one place (the Configuration tab, answered to workspace/configuration under `user`,
// which the template's Experimental capabilities vouch for), its settings schema is the server's,
// and its command, split as LSP4IJ splits it, starts tandem-lsp with ~/.profile read first; the
// server takes the settings as LSP4IJ sends them and serves completions from the backend there.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsSchema } from '../../clients/jetbrains/settings-schema.mjs';
import { startFakeVllm, type FakeVllm } from '../fake/vllm.js';
import { INLINE_UNHURRIED, until } from '../wait.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = join(ROOT, 'clients/jetbrains/tandem');
const read = (name: string) => JSON.parse(readFileSync(join(DIR, name), 'utf8'));

/**
 * A command line split as LSP4IJ splits it (CommandUtils.createCommands, read from its source):
 * a double quote toggles quoting and is dropped, an unquoted space ends an argument; no escapes,
 * no other shell syntax.
 */
function lsp4ijCommands(commandLine: string): string[] {
  const out: string[] = [];
  let part = '';
  let quoted = false;
  const end = () => {
    if (part.trim()) out.push(part.trim());
    part = '';
  };
  for (const c of commandLine) {
    if (c === '"') quoted = !quoted;
    else if (c === ' ' && !quoted) end();
    else part += c;
  }
  end();
  return out;
}

interface Session {
  messages: any[];
  stdoutStart: string;
  send(msg: unknown): void;
  reply(id: number): Promise<any>;
  exited: Promise<number | null>;
}

/** Starts the template's command as LSP4IJ would, with `env`; answers workspace/configuration from `settings` as LSP4IJ does. */
function startTemplate(env: NodeJS.ProcessEnv, settings: Record<string, unknown>): Session {
  const [cmd, ...args] = lsp4ijCommands(read('template.json').programArgs.default);
  const proc = spawn(cmd!, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const messages: any[] = [];
  let stdoutStart = '';
  let buf = Buffer.alloc(0);
  const send = (msg: unknown) => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...(msg as object) }));
    proc.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  };
  proc.stdout.on('data', (d: Buffer) => {
    if (stdoutStart.length < 16) stdoutStart += d.toString('latin1').slice(0, 16 - stdoutStart.length);
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, head).toString())![1]);
      if (buf.length < head + 4 + len) return;
      const msg = JSON.parse(buf.subarray(head + 4, head + 4 + len).toString());
      messages.push(msg);
      buf = buf.subarray(head + 4 + len);
      // As LSP4IJ answers (LanguageClientImpl.configuration): the Configuration's value at each section asked for.
      if (msg.method === 'workspace/configuration') send({ id: msg.id, result: msg.params.items.map((i: { section?: string }) => (i.section ? (settings[i.section] ?? null) : settings)) });
      else if (msg.method && msg.id !== undefined) send({ id: msg.id, result: null });
    }
  });
  const reply = (id: number) => until(() => messages.find((x) => x.id === id && !('method' in x)), `the answer to request ${id}`);
  return { messages, get stdoutStart() { return stdoutStart; }, send, reply, exited: new Promise((res) => proc.on('exit', res)) };
}

/** A directory holding `tandem-lsp`, as `npm install -g <checkout>` would leave it. */
function binDir(): string {
  const bin = mkdtempSync(join(tmpdir(), 'tandem-jb-bin-'));
  writeFileSync(join(bin, 'tandem-lsp'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'server/bin/tandem-lsp.js')}" "$@"\n`);
  chmodSync(join(bin, 'tandem-lsp'), 0o755);
  return bin;
}

describe('LSP4IJ template', () => {
  const template = read('template.json');

  it('has what LSP4IJ requires: a name, programArgs per OS, file mappings with a language id', () => {
    expect(template.id).toBe('tandem');
    expect(typeof template.name).toBe('string');
    expect(Object.keys(template.programArgs).sort()).toEqual(['default', 'windows']);
    expect(lsp4ijCommands(template.programArgs.windows)).toEqual(['tandem-lsp.cmd', '--stdio']);
    const sh = lsp4ijCommands(template.programArgs.default);
    expect(sh.slice(0, 2)).toEqual(['sh', '-c']);
    expect(sh).toHaveLength(3);
    expect(sh[2]).toMatch(/; exec tandem-lsp --stdio$/);
    expect(template.fileTypeMappings.length).toBeGreaterThan(0);
    for (const m of template.fileTypeMappings) {
      expect(typeof m.languageId).toBe('string');
      expect(m.fileType.patterns.every((p: string) => /^\*\.\w+$/.test(p))).toBe(true);
    }
    expect(template.fileTypeMappings.map((m: { languageId: string }) => m.languageId)).toEqual(
      expect.arrayContaining(['python', 'javascript', 'typescript', 'go', 'rust', 'java']),
    );
  });

  it('every setting is in one place: the Configuration tab, under `user`, vouched for by the Experimental capabilities', () => {
    // No Initialization options to fill in: LSP4IJ then sends {} (its default for a template without the file).
    expect(existsSync(join(DIR, 'initializationOptions.json'))).toBe(false);
    expect(read('experimental.json')).toEqual({ tandem: { scopedSettings: true } });
    const settings = read('settings.json');
    expect(Object.keys(settings)).toEqual(['tandem']);
    expect(Object.keys(settings.tandem)).toEqual(['user']);
    expect(settings.tandem.user.backends.fim).toMatchObject({ kind: 'vllm', url: expect.any(String) });
    const server = JSON.parse(readFileSync(join(ROOT, 'server/tandem.schema.json'), 'utf8'));
    expect(read('settings.schema.json'), 'regenerate: node clients/jetbrains/settings-schema.mjs').toEqual(settingsSchema(server));
    const { $schema: _s, title: _t, ...section } = server;
    expect(read('settings.schema.json').properties.tandem.properties.user).toEqual(section);
  });
});

describe('LSP4IJ template: its command and settings against the built server', () => {
  let fake: FakeVllm;
  beforeAll(async () => {
    fake = await startFakeVllm({ respond: (req) => ({ text: String(req.body?.prompt ?? '').includes('    re<|fim_suffix|>') ? 'turn a + b' : '' }) });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('the command reads ~/.profile (its output kept off the LSP stream), starts tandem-lsp, and the server serves completions from the Configuration tab\'s backend', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tandem-jb-home-'));
    const bin = binDir();
    // tandem-lsp is on the PATH only through ~/.profile, which also prints (as some do).
    writeFileSync(join(home, '.profile'), `echo "welcome from .profile"\nPATH="${bin}:$PATH"; export PATH\n`);
    const workspace = mkdtempSync(join(tmpdir(), 'tandem-jb-ws-'));
    writeFileSync(join(workspace, 'calc.py'), 'def add(a, b):\n    re\n');
    // The user's edit of the template's Configuration: their model server's URL, and tunables.
    const settings = read('settings.json');
    settings.tandem.user.backends.fim.url = fake.url;
    settings.tandem.user.inline = INLINE_UNHURRIED;
    expect(process.env.PATH!.split(delimiter)).not.toContain(bin);
    const s = startTemplate({ ...process.env, HOME: home, XDG_CONFIG_HOME: home, XDG_STATE_HOME: home, TANDEM_CONFIG: '' }, settings);
    // What LSP4IJ sends: the Experimental JSON as capabilities.experimental, the (absent) initialization options as {}.
    s.send({ id: 1, method: 'initialize', params: { processId: null, rootUri: pathToFileURL(workspace).href, capabilities: { workspace: { configuration: true }, experimental: read('experimental.json') }, initializationOptions: {} } });
    const init = await s.reply(1);
    expect(s.stdoutStart).toBe('Content-Length: ');
    expect(init.result.serverInfo.name).toBe('tandem');
    // What the intentions (Alt+Enter) list: code actions, resolved when picked.
    expect(init.result.capabilities.codeActionProvider).toMatchObject({ resolveProvider: true });
    s.send({ method: 'initialized', params: {} });
    // LSP4IJ pushes the whole Configuration once the server has started (UserDefinedLanguageClient).
    s.send({ method: 'workspace/didChangeConfiguration', params: { settings } });
    await until(() => s.messages.some((m) => m.method === 'window/logMessage' && String(m.params.message).includes('configuration loaded (initialized)')), 'the pulled configuration to load');
    expect(s.messages.some((m) => m.method === 'workspace/configuration')).toBe(true);
    // Nothing refused, nothing ignored as a repository's.
    expect(s.messages.filter((m) => m.method === 'window/showMessage').map((m) => m.params.message)).toEqual([]);
    // The completion comes from the backend named there, at user level.
    const uri = pathToFileURL(join(workspace, 'calc.py')).href;
    s.send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'python', version: 1, text: 'def add(a, b):\n    re\n' } } });
    s.send({ id: 2, method: 'textDocument/inlineCompletion', params: { textDocument: { uri }, position: { line: 1, character: 6 }, context: { triggerKind: 1 } } });
    const completion = await s.reply(2);
    expect(completion.result.items[0].insertText).toBe('turn a + b');
    expect(fake.completions().length).toBeGreaterThan(0);
    s.send({ id: 3, method: 'shutdown' });
    await s.reply(3);
    s.send({ method: 'exit' });
    expect(await s.exited).toBe(0);
  });

  it('without a ~/.profile the command still starts tandem-lsp from the IDE\'s PATH', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tandem-jb-home-'));
    const s = startTemplate({ ...process.env, HOME: home, XDG_CONFIG_HOME: home, XDG_STATE_HOME: home, TANDEM_CONFIG: '', PATH: `${binDir()}${delimiter}${process.env.PATH}` }, read('settings.json'));
    s.send({ id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: { experimental: read('experimental.json') }, initializationOptions: {} } });
    expect((await s.reply(1)).result.serverInfo.name).toBe('tandem');
    s.send({ id: 2, method: 'shutdown' });
    await s.reply(2);
    s.send({ method: 'exit' });
    expect(await s.exited).toBe(0);
  });
});
