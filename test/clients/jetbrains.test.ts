// clients/jetbrains: the LSP4IJ user-defined server template parses as LSP4IJ reads it, puts where
// code goes in the initialization options (the server's user level) and none of it in the
// Configuration tab (answered to workspace/configuration: repository level to the server), its
// settings schema is the server's, and its command starts tandem-lsp (with tandem-lsp on PATH, as
// `npm install -g` from a checkout leaves it), which takes both as LSP4IJ sends them.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { settingsSchema } from '../../clients/jetbrains/settings-schema.mjs';
import { USER_ONLY_SECTIONS } from '../../clients/vscode/scripts/settings.mjs';
import { until } from '../wait.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = join(ROOT, 'clients/jetbrains/tandem');
const read = (name: string) => JSON.parse(readFileSync(join(DIR, name), 'utf8'));

describe('LSP4IJ template', () => {
  const template = read('template.json');

  it('has what LSP4IJ requires: a name, programArgs per OS, file mappings with a language id', () => {
    expect(template.id).toBe('tandem');
    expect(typeof template.name).toBe('string');
    expect(Object.keys(template.programArgs).sort()).toEqual(['default', 'windows']);
    for (const v of Object.values(template.programArgs)) expect(v).toMatch(/tandem-lsp(\.cmd)? --stdio"?$/);
    expect(template.fileTypeMappings.length).toBeGreaterThan(0);
    for (const m of template.fileTypeMappings) {
      expect(typeof m.languageId).toBe('string');
      expect(m.fileType.patterns.every((p: string) => /^\*\.\w+$/.test(p))).toBe(true);
    }
    expect(template.fileTypeMappings.map((m: { languageId: string }) => m.languageId)).toEqual(
      expect.arrayContaining(['python', 'javascript', 'typescript', 'go', 'rust', 'java']),
    );
  });

  it('where code goes is in the initialization options, none of it in the Configuration tab; the settings schema is the server schema', () => {
    // LSP4IJ keeps both tabs at application level, but sends the Configuration as the
    // workspace/configuration answer, which the server takes as repository-level.
    expect(read('initializationOptions.json').backends.fim).toMatchObject({ kind: 'vllm', url: expect.any(String) });
    const settings = read('settings.json');
    expect(Object.keys(settings)).toEqual(['tandem']);
    expect(Object.keys(settings.tandem).filter((k) => USER_ONLY_SECTIONS.includes(k))).toEqual([]);
    const server = JSON.parse(readFileSync(join(ROOT, 'server/tandem.schema.json'), 'utf8'));
    expect(read('settings.schema.json'), 'regenerate: node clients/jetbrains/settings-schema.mjs').toEqual(settingsSchema(server));
  });

  it('its command starts tandem-lsp, which answers initialize with the template options and takes its Configuration answer', async () => {
    // A PATH with `tandem-lsp` on it, as `npm install -g <checkout>` would leave it.
    const bin = mkdtempSync(join(tmpdir(), 'tandem-jb-'));
    writeFileSync(join(bin, 'tandem-lsp'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'server/bin/tandem-lsp.js')}" "$@"\n`);
    chmodSync(join(bin, 'tandem-lsp'), 0o755);
    // LSP4IJ splits the command line like a shell: sh -c "<command>".
    const m = /^sh -c "(.*)"$/.exec(template.programArgs.default);
    expect(m).not.toBeNull();
    const proc = spawn('sh', ['-c', m![1]!], {
      env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}`, XDG_CONFIG_HOME: bin, TANDEM_CONFIG: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const responses: any[] = [];
    const settings = read('settings.json');
    let buf = Buffer.alloc(0);
    proc.stdout.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, head).toString())![1]);
        if (buf.length < head + 4 + len) return;
        const msg = JSON.parse(buf.subarray(head + 4, head + 4 + len).toString());
        responses.push(msg);
        buf = buf.subarray(head + 4 + len);
        // As LSP4IJ answers: the Configuration's value at each section asked for.
        if (msg.method === 'workspace/configuration') send({ id: msg.id, result: msg.params.items.map((i: { section?: string }) => (i.section ? (settings[i.section] ?? null) : settings)) });
        else if (msg.method && msg.id !== undefined) send({ id: msg.id, result: null });
      }
    });
    const send = (msg: unknown) => {
      const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...(msg as object) }));
      proc.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
      proc.stdin.write(body);
    };
    const reply = (id: number) => until(() => responses.find((x) => x.id === id && !('method' in x)), `the answer to request ${id}`);
    const exited = new Promise<number | null>((res) => proc.on('exit', res));
    send({ id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: { workspace: { configuration: true } }, initializationOptions: read('initializationOptions.json') } });
    const init = await reply(1);
    expect(init.result.serverInfo.name).toBe('tandem');
    expect(init.result.capabilities.inlineCompletionProvider).toBe(true);
    // What the intentions (Alt+Enter) list: code actions, resolved when picked.
    expect(init.result.capabilities.codeActionProvider).toMatchObject({ resolveProvider: true });
    send({ method: 'initialized', params: {} });
    const loaded = (m: any) => m.method === 'window/logMessage' && String(m.params.message).includes('configuration loaded (initialized)');
    for (let i = 0; i < 200 && !responses.some(loaded); i++) await new Promise((res) => setTimeout(res, 25));
    expect(responses.some((m) => m.method === 'workspace/configuration')).toBe(true);
    expect(responses.some(loaded)).toBe(true);
    // Neither option set is refused, and nothing in them is ignored as a repository's.
    expect(responses.filter((m) => m.method === 'window/showMessage').map((m) => m.params.message)).toEqual([]);
    send({ id: 2, method: 'shutdown' });
    await reply(2);
    send({ method: 'exit' });
    expect(await exited).toBe(0);
  });
});
