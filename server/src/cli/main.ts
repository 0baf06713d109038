// The `tandem-lsp` command: argument parsing, the one-shot commands, and the stdio server's start.
import { execFileSync } from 'node:child_process';
import { watchFile } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig, userConfigPath } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { DocumentActivity } from '../context/activity.js';
import { ContextEngine } from '../context/engine.js';
import { FileTables } from '../context/fileTables.js';
import { WorkspaceIndex, type CacheCounts } from '../context/index.js';
import { indexLimits } from '../context/service.js';
import { standardSources } from '../context/standard.js';
import { DocumentStore, type Doc } from '../documents.js';
import { BackendRegistry } from '../models/registry.js';
import { ActionPipeline } from '../pipeline/actions.js';
import { InlinePipeline } from '../pipeline/inline.js';
import { NextEditPipeline } from '../pipeline/nextEdit.js';
import { EditHistory, STEP_PAUSE_MS } from '../nextEdit/history.js';
import { parseUnifiedDiff, replayHunks, textBefore, type DiffHunk } from '../nextEdit/replay.js';
import { estimateTokens } from '../prompt/tokens.js';
import { PathPolicy } from '../privacy/paths.js';
import { spendDir } from '../router/budget.js';
import { grammarFailure, LANGUAGE_NAMES, languageIdForPath } from '../syntax/languages.js';
import { bindingFailure, loadSyntax, nativeBindingFailure, syntaxAvailable, syntaxBackend, syntaxOffMessage } from '../syntax/binding.js';
import { ParseService } from '../syntax/tree.js';
import { isLogLevel, LogHub, stderrSink } from '../util/logger.js';
import { stateDir } from '../util/paths.js';
import { VERSION } from '../version.js';
import { uriToPath, Workspace } from '../workspace.js';
import { DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, TOKEN_FILE } from '../serve/defaults.js';
import { doctor as runDoctor, noBackendMessage, type Origin } from './doctor.js';
import { recordInFlightOnExit } from './exitHooks.js';
import { checkPosition, checkRange, parseRange, parseTarget, readTextFile, UsageError, workspaceFor, type Target } from './target.js';
import { TextLines } from '../util/textLines.js';

export const EXIT = { ok: 0, unhealthy: 1, usage: 2, noBackend: 3 } as const;

const HELP = `tandem-lsp ${VERSION}: AI completions and code actions for any LSP editor, from your own GPUs first.

Usage:
  tandem-lsp --stdio [--config FILE]
      Run the language server on stdin/stdout (what editors start).
  tandem-lsp complete FILE:LINE:COL [--config FILE] [--workspace DIR] [--json]
      One inline completion through the whole pipeline; prints the text to insert
      (--json: {text, backend, model, latencyMs}).
  tandem-lsp prompt FILE:LINE:COL [--config FILE] [--workspace DIR] [--task inline|nextEdit] --json
      Dry run: the prompt that would be sent, its segments and budget, and each context
      source's time (the workspace is indexed first). No backend is called. --task nextEdit:
      the next-edit prompt instead, the file's uncommitted changes (git diff HEAD) as your edits.
  tandem-lsp explain FILE:LINE[-LINE] [--config FILE] [--workspace DIR]
      A Markdown explanation of those lines (route: action), streamed to stdout.
  tandem-lsp doctor [--config FILE]
      Checks every backend (reachable, model served, key, certificate, context window, latency)
      and every route; under a backend that is not usable, the fix.
  tandem-lsp serve [--port N] [--host ADDR] [--config FILE] [--workspace DIR] [--max-body-bytes N]
      A local OpenAI-compatible endpoint for chat clients (Continue, Aider, Zed, ...):
      GET /v1/models, POST /v1/chat/completions, POST /v1/completions, through tandem's routes
      and privacy rules. Port ${DEFAULT_PORT} and ${DEFAULT_HOST} by default (--port 0: any free port);
      every request needs the bearer token kept in ${join('<state dir>', TOKEN_FILE)} (0600, made
      once). Prints the URL and the token file's path on stderr; runs until stopped.
  tandem-lsp --version | --help

LINE and COL are 1-based, as editors show them.
Configuration: ${userConfigPath()}, then --config FILE or $TANDEM_CONFIG, then the editor's
settings, then the workspace's tandem.json. Settings a repository can carry (tandem.json, the
editor's workspace settings) may only tighten; a tandem.json that cannot be read air-gaps.
Log level: $TANDEM_LOG (error, warn, info, debug, trace); logs go to stderr.
Parser: tree-sitter's native binding where it loads, else its WebAssembly build;
$TANDEM_TREE_SITTER=wasm chooses the WebAssembly build (doctor says which is in use).

Exit status: 0 success; 1 doctor found a route no backend serves; 2 bad arguments or
configuration; 3 no usable backend.
`;

interface Args {
  command: string;
  positional: string[];
  config?: string;
  workspace?: string;
  json: boolean;
  task?: string;
  port?: string;
  host?: string;
  maxBodyBytes?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { command: '', positional: [], json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (flag: string) => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (a === '--config') args.config = value(a);
    else if (a.startsWith('--config=')) args.config = a.slice('--config='.length);
    else if (a === '--workspace') args.workspace = value(a);
    else if (a.startsWith('--workspace=')) args.workspace = a.slice('--workspace='.length);
    else if (a === '--json') args.json = true;
    else if (a === '--task') args.task = value(a);
    else if (a.startsWith('--task=')) args.task = a.slice('--task='.length);
    else if (a === '--port') args.port = value(a);
    else if (a.startsWith('--port=')) args.port = a.slice('--port='.length);
    else if (a === '--host') args.host = value(a);
    else if (a.startsWith('--host=')) args.host = a.slice('--host='.length);
    else if (a === '--max-body-bytes') args.maxBodyBytes = value(a);
    else if (a.startsWith('--max-body-bytes=')) args.maxBodyBytes = a.slice('--max-body-bytes='.length);
    // vscode-languageclient adds --clientProcessId when it starts a server; the LSP library
    // reads it itself (to exit with the editor), so it is accepted and left to the library.
    else if (a.startsWith('--clientProcessId=')) continue;
    else if (a === '--clientProcessId') i++;
    else if (a === '--stdio' || a === '--version' || a === '-v' || a === '--help' || a === '-h') args.command ||= a;
    else if (a.startsWith('-')) throw new UsageError(`unknown flag ${a} (see tandem-lsp --help)`);
    else if (!args.command) args.command = a;
    else args.positional.push(a);
  }
  return args;
}

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`tandem-lsp: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  // Whatever ends the process, every request that reached a backend is in the audit log.
  recordInFlightOnExit();
  // One-shot commands print their own one-sentence errors; the log adds detail only when asked.
  const hub = new LogHub(isLogLevel(process.env.TANDEM_LOG) ? process.env.TANDEM_LOG : 'error');
  hub.addSink(stderrSink);
  try {
    switch (args.command) {
      case '--version':
      case '-v':
        process.stdout.write(`${VERSION}\n`);
        return EXIT.ok;
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(HELP);
        return EXIT.ok;
      case '':
        process.stderr.write(HELP);
        return EXIT.usage;
      // Commands that parse load tree-sitter first: the native binding, or its WebAssembly build
      // (whose start is asynchronous) where that does not load.
      case '--stdio':
        await loadSyntax();
        return await runStdio(args, hub);
      case 'complete':
        await loadSyntax();
        return await complete(args, hub);
      case 'prompt':
        await loadSyntax();
        return await prompt(args, hub);
      case 'explain':
        await loadSyntax();
        return await explain(args, hub);
      case 'doctor':
        await loadSyntax();
        return await doctor(args, hub);
      case 'serve':
        return await serve(args, hub);
      default:
        throw new UsageError(`unknown command "${args.command}" (see tandem-lsp --help)`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tandem-lsp: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

async function runStdio(args: Args, hub: LogHub): Promise<number> {
  // stdout carries LSP frames only: anything a library prints goes to stderr instead.
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;
  hub.level = isLogLevel(process.env.TANDEM_LOG) ? process.env.TANDEM_LOG : 'info';
  const { createConnection, ProposedFeatures } = await import('vscode-languageserver/node');
  const { startServer } = await import('../server/server.js');
  const { FrameWriter } = await import('../server/frameWriter.js');
  const { FrameReader } = await import('../server/frameReader.js');
  // Our reader, not the library's: a bad frame from the editor is logged and skipped (reading
  // resumes at the next header) instead of leaving the server alive but deaf. One write per
  // message out (see FrameWriter).
  const readerLog = hub.logger('stdin');
  const writer = new FrameWriter(process.stdout);
  // An invalid request (an id that is no number or string, say) is answered by the reader itself:
  // the library would drop it unanswered. A failed write is the writer's to report.
  const reader = new FrameReader(process.stdin, (problem) => readerLog.error(problem), (answer) => void writer.write(answer).catch(() => undefined));
  const connection = createConnection(ProposedFeatures.all, reader, writer);
  // Handed a reader rather than the raw stream, the library no longer exits when stdin ends: the
  // editor is gone, so exit as it would have, 0 only after a `shutdown` request.
  reader.onClose(() => process.exit(reader.shutdownReceived ? 0 : 1));
  reader.onError((err) => readerLog.error(`reading a message failed: ${err.message}`));
  startServer(connection, { env: process.env, configFile: args.config, logHub: hub });
  // The connection ends the process on `exit`; until then the open stdin keeps it alive.
  return new Promise<number>(() => undefined);
}

function configOrExit(args: Args, roots: string[]): Config {
  return loadOrExit(args, roots).config;
}

/** The configuration and, for messages, which source set each value. */
function loadOrExit(args: Args, roots: string[]): { config: Config; origin: Origin | undefined } {
  const r = loadConfig({ configFile: args.config, env: process.env, workspaceRoots: roots });
  if (!r.ok) throw new UsageError(r.error);
  for (const w of r.warnings) process.stderr.write(`tandem-lsp: warning: ${w}\n`);
  return { config: r.config, origin: r.origin };
}

/**
 * The backends of a one-shot command, as the server has them: every request audited and priced
 * spend written to the day's ledger (both on disk before the command prints its answer).
 */
function backendsFor(config: Config, hub: LogHub, roots: () => string[]): BackendRegistry {
  const paths = new PathPolicy({ roots, warn: (m) => hub.logger('cli').warn(m) });
  const backends = new BackendRegistry(hub.logger('backend'), { spendDir: spendDir(process.env), paths });
  backends.update(config);
  hub.setSecrets(Object.values(config.backends).flatMap((b) => (b.apiKeyEnv && process.env[b.apiKeyEnv] ? [process.env[b.apiKeyEnv]!] : [])));
  return backends;
}

interface Session {
  config: Config;
  origin: Origin | undefined;
  doc: Doc;
  target: Target;
  pipeline: InlinePipeline;
  backends: BackendRegistry;
  workspace: Workspace;
  /** The workspace's folder, and why it is that one. */
  root: { path: string; why: string };
  /** The index's size and where its entries came from (null when context is off). */
  index: ({ files: number } & CacheCounts) | null;
}

async function openTarget(args: Args, hub: LogHub): Promise<Session> {
  const target = parseTarget(args.positional[0]);
  const { root, why } = workspaceFor(target.file, args.workspace);
  hub.logger('cli').info(`workspace ${root} (${why})`);
  const { config, origin } = loadOrExit(args, [root]);
  const text = readTextFile(target.file);
  checkPosition(args.positional[0]!, new TextLines(text), target);
  const parser = new ParseService();
  const store = new DocumentStore(parser);
  const doc = store.open(pathToFileURL(target.file).href, languageIdForPath(target.file), 0, text);
  // A one-shot command has nothing else to do: it parses at once (bounded all the same).
  doc.tree?.parseNow();
  const workspace = new Workspace([root]);
  const backends = backendsFor(config, hub, () => workspace.roots);
  const built = config.context.enabled && syntaxAvailable() ? await contextFor(root, config, workspace, backends.paths, hub, parser, doc) : undefined;
  const pipeline = new InlinePipeline({ config: () => config, backends, workspace, logger: hub.logger('inline'), context: built?.engine, parse: (lang, text, maxMs) => parser.parseNow(lang, text, { maxMs }), contextCpu: true });
  return { config, origin, root: { path: root, why }, doc, target, pipeline, backends, workspace, index: built ? { files: built.index.stats().files, ...built.index.cacheCounts } : null };
}

/**
 * A one-shot command indexes the workspace first, so its prompt has what the server's would; then,
 * as the server does for a document that settled, it works out the document's imports and
 * identifier counts before the request. The index is the one kept on disk (shared with the
 * server): only files changed since are read, and what changed is saved before the request.
 */
async function contextFor(root: string, config: Config, workspace: Workspace, paths: PathPolicy, hub: LogHub, parser: ParseService, doc: Doc): Promise<{ engine: ContextEngine; index: WorkspaceIndex }> {
  const index = new WorkspaceIndex({ parse: (lang, text) => parser.parseNow(lang, text), relativePath: (abs) => workspace.relativePath(abs), logger: hub.logger('context'), sliceMs: 50, outside: (abs) => paths.outsideWorkspace(abs), persist: { stateDir: stateDir(process.env) } });
  const started = performance.now();
  await index.build([root], indexLimits(config));
  await index.idle();
  const indexed = performance.now();
  await index.save();
  const c = index.cacheCounts;
  hub.logger('context').debug(`index: ${index.stats().files} files (${c.fromCache} from the saved index, ${c.read} read) in ${Math.round(indexed - started)} ms, saved in ${Math.round(performance.now() - indexed)} ms; process up ${Math.round(performance.now())} ms`);
  const activity = new DocumentActivity({ text: () => undefined, relativePath: (uri) => workspace.relativePath(uri) });
  const tables = new FileTables(() => index);
  tables.prepare({ uri: doc.uri, abs: uriToPath(doc.uri), lang: doc.tree?.language.name, text: doc.text.getText(), tree: doc.tree?.current() });
  return { engine: new ContextEngine(standardSources({ index: () => index, activity, openText: () => undefined, tables }), undefined, hub.logger('context')), index };
}

/** A CLI user waits for one answer; the keystroke deadline would cut a cold model start short. */
const CLI_MIN_DEADLINE_MS = 30_000;

async function complete(args: Args, hub: LogHub): Promise<number> {
  const s = await openTarget(args, hub);
  const outcome = await s.pipeline.complete({
    doc: s.doc,
    position: { line: s.target.line, character: s.target.character },
    immediate: true,
    deadlineMs: Math.max(s.config.inline.deadlineMs, CLI_MIN_DEADLINE_MS),
  });
  if (outcome.kind === 'failed') {
    process.stderr.write(`tandem-lsp: ${await noBackendMessage(outcome.failure, outcome.backend, s.config, s.origin, process.env)}\n`);
    return EXIT.noBackend;
  }
  if (outcome.kind === 'cancelled') return EXIT.noBackend;
  if (outcome.kind === 'empty' && outcome.reason.startsWith('no backend')) {
    process.stderr.write(`tandem-lsp: ${outcome.reason}\n`);
    return EXIT.noBackend;
  }
  const text = outcome.kind === 'completion' ? outcome.text : '';
  if (outcome.kind === 'empty') hub.logger('cli').info(`empty completion: ${outcome.reason}`);
  if (args.json) {
    const backend = outcome.kind === 'completion' || outcome.kind === 'empty' ? (outcome.backend ?? null) : null;
    const model = outcome.kind === 'completion' || outcome.kind === 'empty' ? (outcome.model ?? null) : null;
    process.stdout.write(JSON.stringify({ text, backend, model, latencyMs: outcome.latencyMs }) + '\n');
  } else if (text) {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }
  return EXIT.ok;
}

async function explain(args: Args, hub: LogHub): Promise<number> {
  const spec = args.positional[0];
  const { file, first, last } = parseRange(spec);
  const { root } = workspaceFor(file, args.workspace);
  const { config, origin } = loadOrExit(args, [root]);
  const text = readTextFile(file);
  checkRange(spec!, new TextLines(text), { file, first, last });
  const parser = new ParseService();
  const doc = new DocumentStore(parser).open(pathToFileURL(file).href, languageIdForPath(file), 0, text);
  doc.tree?.parseNow();
  const workspace = new Workspace([root]);
  const backends = backendsFor(config, hub, () => workspace.roots);
  const actions = new ActionPipeline({ config: () => config, backends, workspace, logger: hub.logger('actions'), parse: async (lang, t, old) => parser.parseNow(lang, t, old ? { old } : {}) });
  let printed = 0;
  const outcome = await actions.explain({
    doc,
    start: doc.text.offsetAt({ line: first - 1, character: 0 }),
    end: doc.text.offsetAt({ line: last, character: 0 }),
    onText: (soFar) => {
      process.stdout.write(soFar.slice(printed));
      printed = soFar.length;
    },
  });
  if (outcome.kind !== 'markdown') {
    if (outcome.kind === 'failed') process.stderr.write(`tandem-lsp: ${outcome.failure ? await noBackendMessage(outcome.failure, outcome.backend, config, origin, process.env) : outcome.reason}\n`);
    return EXIT.noBackend;
  }
  // Backends that do not stream hand the whole answer over at the end.
  if (printed === 0) process.stdout.write(outcome.markdown);
  process.stdout.write('\n');
  return EXIT.ok;
}

/** The task classes `prompt --task` can show. */
const PROMPT_TASKS = ['inline', 'nextEdit'] as const;

async function prompt(args: Args, hub: LogHub): Promise<number> {
  const task = args.task ?? 'inline';
  if (!(PROMPT_TASKS as readonly string[]).includes(task)) throw new UsageError(`--task ${task}: expected one of: ${PROMPT_TASKS.join(', ')}`);
  if (task === 'nextEdit') return promptNextEdit(args, hub);
  const s = await openTarget(args, hub);
  const offset = s.doc.text.offsetAt({ line: s.target.line, character: s.target.character });
  const plan = await s.pipeline.plan(s.doc, offset, s.config, new AbortController().signal, false);
  const out = {
    task: 'inline',
    route: { backend: plan.route.backend ?? null, reason: plan.route.reason },
    template: plan.template.name,
    prompt: plan.prompt.prompt,
    segments: plan.prompt.segments,
    // contextWindowSource: "server" (asked), "config" (maxContextTokens) or "assumed" (neither: a
    // dry run does not ask the server, so without maxContextTokens the window is a guess).
    budget: { ...plan.prompt.budget, contextWindowSource: plan.info?.contextSource === 'config' || plan.info?.contextSource === 'server' ? plan.info.contextSource : 'assumed' },
    // Values this dry run assumed rather than learned (doctor asks the server for them).
    assumed: [...(plan.info?.contextSource === 'config' || plan.info?.contextSource === 'server' ? [] : ['budget.contextWindow']), ...(s.config.backends[plan.route.backend ?? '']?.model ? [] : ['model'])],
    workspace: { root: s.root.path, why: s.root.why },
    context: { sources: plan.context?.sources ?? [] },
    // The time the context stage took for this request (null when context is off).
    contextMs: plan.context?.ms ?? null,
    // The process's CPU time meanwhile: on a busy machine the difference is time spent waiting for a core.
    contextCpuMs: plan.context?.cpuMs ?? null,
    // Files indexed, and how many of them came unchanged from the on-disk index or were read now.
    index: s.index,
  };
  process.stdout.write(args.json ? JSON.stringify(out, null, 2) + '\n' : plan.prompt.prompt + '\n');
  return EXIT.ok;
}

/**
 * `prompt --task nextEdit`: the next-edit prompt the route's backend would get at the position,
 * with the file's uncommitted changes (`git diff HEAD`, hunk by hunk in file order) as the user's
 * recent edits, since a one-shot command has no editor that recorded any. No backend is called:
 * the format follows `backends.NAME.model` (or `nextEdit`), and without either is assumed.
 */
async function promptNextEdit(args: Args, hub: LogHub): Promise<number> {
  const target = parseTarget(args.positional[0]);
  const { root, why } = workspaceFor(target.file, args.workspace);
  const { config } = loadOrExit(args, [root]);
  const text = readTextFile(target.file);
  checkPosition(args.positional[0]!, new TextLines(text), target);
  const uri = pathToFileURL(target.file).href;
  const workspace = new Workspace([root]);
  const backends = backendsFor(config, hub, () => workspace.roots);
  let clock = 0;
  const history = new EditHistory({ now: () => clock, relativePath: (u) => workspace.relativePath(u) });
  const changes = uncommittedHunks(target.file);
  if (changes.hunks.length > 0) Array.from(replayHunks(history, uri, textBefore(text, changes.hunks), changes.hunks, (ms) => (clock += ms)));
  clock += STEP_PAUSE_MS + 1; // the last step closed, as a request after a pause finds it
  const doc = new DocumentStore(new ParseService()).open(uri, languageIdForPath(target.file), 0, text);
  const pipeline = new NextEditPipeline({ config: () => config, backends, workspace, logger: hub.logger('nextEdit'), history, lines: () => undefined });
  const p = pipeline.preview(doc, { line: target.line, character: target.character }, config);
  const cfg = p.route.backend ? config.backends[p.route.backend] : undefined;
  const rendered = p.prompt;
  const promptText = rendered ? (rendered.prompt ?? rendered.messages!.map((m) => `<${m.role}>\n${m.content}`).join('\n\n')) : '';
  const segments: { kind: string; path?: string; tokens: number }[] = [];
  if (rendered) {
    const [file, ...others] = rendered.sources;
    let rest = estimateTokens(promptText);
    for (const src of others) {
      const tokens = estimateTokens(src.text);
      const related = !history.recent().some((e) => e.path === src.path && [...e.before, ...e.after].join('\n') === src.text);
      segments.push({ kind: related ? 'related' : 'edit', path: src.path, tokens });
      rest -= tokens;
    }
    const region = estimateTokens(rendered.region.text);
    segments.push({ kind: 'region', path: file!.path, tokens: region });
    // The rest: the current file's lines around the region, the format's instruction and markers.
    segments.push({ kind: 'file', path: file!.path, tokens: Math.max(0, rest - region) });
  }
  const out = {
    task: 'nextEdit',
    route: { backend: p.route.backend ?? null, reason: p.route.reason },
    // The format the prompt is in (zeta, sweep, instruct), as `template` is the FIM template of an inline prompt.
    template: rendered?.format ?? null,
    // Where the format came from: backends.NAME.nextEdit, the model name, or neither (instruct, the fallback).
    templateFrom: cfg?.nextEdit ? `backends.${cfg.name}.nextEdit` : cfg?.model ? `model ${cfg.model}` : null,
    prompt: promptText,
    ...(rendered?.messages ? { messages: rendered.messages } : {}),
    stop: rendered?.stop ?? [],
    segments,
    budget: { contextWindow: cfg?.maxContextTokens ?? 8192, prompt: estimateTokens(promptText), maxTokens: p.maxTokens, contextWindowSource: cfg?.maxContextTokens ? 'config' : 'assumed' },
    // The editable region sent (1-based lines, inclusive): the model's answer may change only these.
    region: rendered ? { startLine: rendered.region.startLine + 1, endLine: rendered.region.endLine } : null,
    // The edits the prompt holds: the file's uncommitted changes, one step per hunk.
    history: { source: changes.source, steps: history.recent().length },
    assumed: [...(cfg?.maxContextTokens ? [] : ['budget.contextWindow']), ...(cfg && !cfg.model && !cfg.nextEdit ? ['model', 'template'] : [])],
    workspace: { root, why },
  };
  process.stdout.write(args.json ? JSON.stringify(out, null, 2) + '\n' : promptText + '\n');
  return EXIT.ok;
}

/** The file's changes since git's HEAD, as zero-context hunks; none (and why) outside git or without changes. */
function uncommittedHunks(file: string): { hunks: DiffHunk[]; source: string } {
  const dir = dirname(file);
  try {
    const diff = execFileSync('git', ['-C', dir, 'diff', '--no-color', '--no-ext-diff', '--unified=0', 'HEAD', '--', basename(file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
    const hunks = [...parseUnifiedDiff(diff).values()][0] ?? [];
    return { hunks, source: hunks.length > 0 ? 'git diff HEAD' : 'none: no changes since HEAD (git diff HEAD)' };
  } catch {
    return { hunks: [], source: 'none: not in a git repository with a HEAD commit' };
  }
}

/** `doctor`'s line on tree-sitter: loaded with which grammars, or what is off and what it needs. */
function syntaxLine(): string {
  const why = bindingFailure();
  if (why !== undefined) return syntaxOffMessage(why);
  const missing = LANGUAGE_NAMES.map((l) => [l, grammarFailure(l)] as const).filter(([, w]) => w !== undefined);
  const loaded = LANGUAGE_NAMES.filter((l) => grammarFailure(l) === undefined);
  const which = syntaxBackend() === 'wasm' ? `tree-sitter's WebAssembly build loaded (the native binding: ${nativeBindingFailure()})` : 'tree-sitter loaded';
  return `syntax   ${which}; grammars ${loaded.join(', ') || 'none'}${missing.map(([l, w]) => `; ${l} unavailable (${w}): its files complete from text windows`).join('')}`;
}

async function doctor(args: Args, hub: LogHub): Promise<number> {
  const roots = args.workspace ? [resolve(args.workspace)] : [];
  const { config, origin } = loadOrExit(args, roots);
  const backends = backendsFor(config, hub, () => roots);
  return runDoctor(config, backends, origin, process.env, (line) => process.stdout.write(line + '\n'), [syntaxLine()]);
}

/** A whole number flag within bounds, else a usage error naming the flag. */
function intFlag(flag: string, v: string | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`${flag} ${v}: expected a whole number from ${min} to ${max}`);
  return n;
}

/** How often serve looks at its configuration files for a change. */
const CONFIG_POLL_MS = 1000;

async function serve(args: Args, hub: LogHub): Promise<number> {
  if (args.positional.length > 0) throw new UsageError(`serve takes no file argument (got ${args.positional[0]}); see tandem-lsp --help`);
  const port = intFlag('--port', args.port, DEFAULT_PORT, 0, 65535);
  const maxBodyBytes = intFlag('--max-body-bytes', args.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 1024, 1 << 30);
  const host = args.host ?? DEFAULT_HOST;
  if (host === '') throw new UsageError('--host: expected an address such as 127.0.0.1');
  // The workspace whose files chat references and whose privacy rules apply: --workspace, else the
  // project around the current directory (cli/target.ts workspaceFor), else the current directory.
  const { root } = workspaceFor(join(process.cwd(), 'serve'), args.workspace);
  hub.level = isLogLevel(process.env.TANDEM_LOG) ? process.env.TANDEM_LOG : 'info';
  // Loaded here, not at the top: the other commands never need the chat pipeline or the HTTP server.
  const [{ ChatPipeline }, { namedPaths }, { startServe }] = await Promise.all([import('../pipeline/chat.js'), import('../pipeline/chatSources.js'), import('../serve/start.js')]);
  let config = configOrExit(args, [root]);
  const workspace = new Workspace([root]);
  const backends = backendsFor(config, hub, () => workspace.roots);
  const chat = new ChatPipeline({ config: () => config, backends, workspace, logger: hub.logger('chat') });
  // The configuration files are watched: a change applies to the next request, without a restart
  // (the clients' settings stay valid); an invalid change is reported and the last good one stays.
  const serveLog = hub.logger('serve');
  const files = [userConfigPath(), args.config ?? (process.env.TANDEM_CONFIG || undefined), join(root, 'tandem.json')].filter((f): f is string => f !== undefined);
  let reloading: NodeJS.Timeout | undefined;
  const reload = () => {
    const r = loadConfig({ configFile: args.config, env: process.env, workspaceRoots: [root] });
    if (!r.ok) return serveLog.error(`configuration not reloaded, the last good one stays: ${r.error}`);
    for (const w of r.warnings) serveLog.warn(w);
    config = r.config;
    backends.update(config);
    backends.paths.invalidate();
    chat.invalidate();
    chat.warm();
    hub.setSecrets(Object.values(config.backends).flatMap((b) => (b.apiKeyEnv && process.env[b.apiKeyEnv] ? [process.env[b.apiKeyEnv]!] : [])));
    serveLog.info(`configuration reloaded: backends ${Object.keys(config.backends).join(', ')}`);
  };
  for (const f of files) {
    watchFile(f, { interval: CONFIG_POLL_MS, persistent: false }, (now, before) => {
      if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
      // Editors write in steps (truncate, write, rename): read once they are done.
      clearTimeout(reloading);
      reloading = setTimeout(reload, 100);
    });
  }
  const created = Math.floor(Date.now() / 1000);
  let serving;
  try {
    serving = await startServe({
      port,
      host,
      maxBodyBytes,
      stateDir: stateDir(process.env),
      config: () => config,
      backends,
      chat,
      // A raw prompt declares no files: those it names by path, and protected files whose lines it
      // holds, are its sources for the router and the gate (as for chat messages).
      sourcesOf: async (text, signal) => {
        const paths = new Set(namedPaths(text, workspace.roots, (abs) => workspace.relativePath(abs)));
        if (config.privacy.onPremOnly.length > 0 && !config.privacy.airGapped) for (const p of await chat.fingerprint.find([text], [], signal)) paths.add(p);
        return [...paths].map((path) => ({ path, text: '' }));
      },
      models: async () => (await chat.models()).map((m) => ({ id: m.id, object: 'model' as const, created, owned_by: 'tandem', name: `tandem · ${m.name} (${m.location === 'cloud' ? 'cloud' : 'on-prem'})`, ...(m.backend ? { backend: m.backend } : {}), location: m.location, max_input_tokens: m.maxInputTokens, max_output_tokens: m.maxOutputTokens, context_length: m.maxInputTokens + m.maxOutputTokens, tool_calling: m.toolCalling, healthy: m.healthy })),
      logger: hub.logger('serve'),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // The fingerprint of protected files, built now rather than on the first chat that could reach a cloud backend.
  chat.warm();
  for (const n of serving.notes) process.stderr.write(`tandem-lsp serve: ${n}\n`);
  if (!/^(127\.|::1$|\[::1\]$|localhost$)/.test(host)) process.stderr.write(`tandem-lsp serve: warning: listening on ${host}, reachable from other machines; the bearer token is all that guards it\n`);
  process.stderr.write(`tandem-lsp serve: listening on ${serving.url} (bearer token in ${serving.tokenPath}; workspace ${root})\n`);
  // Runs until a signal ends the process (exitHooks records requests still in flight).
  return new Promise<number>(() => undefined);
}
