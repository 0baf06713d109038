// Actions whose context or edits span files: generate tests, update call sites, tandem.edit on the workspace.
import { readFileSync, statSync } from 'node:fs';
import { join, posix, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { candidateFiles, definesName, excerpts, findCalls, importers, MAX_FILES, MAX_SITES } from '../actions/callSites.js';
import { applyBlocks, extractFenced, fenced, lineScope, parseSearchReplace, tighten, type EditBlock } from '../actions/editFormat.js';
import { planTests } from '../actions/testLayout.js';
import type { WorkspaceIndex } from '../context/index.js';
import type { Doc } from '../documents.js';
import type { ChatMessage, SourceRef } from '../models/types.js';
import type { PathPolicy } from '../privacy/paths.js';
import { languageOf, type LanguageName } from '../syntax/languages.js';
import type { Tree } from '../syntax/tree.js';
import { uriToPath } from '../workspace.js';
import { errorCountWithin, type EditCheck, type OffsetEdit } from '../syntax/editCheck.js';
import type { ActionOutcome, ChatAnswer, RangedEdit } from './actions.js';
import { ancestors } from '../syntax/ancestors.js';

/** A file the user has not opened is read from disk only up to this size. */
const MAX_READ_BYTES = 512 * 1024;
/** Related files sent whole to a workspace edit: at most this many, each at most this long. */
const MAX_RELATED = 8;
const MAX_RELATED_CHARS = 40_000;
/** Lines of an example test file shown to the model. */
const EXAMPLE_LINES = 150;

export const MULTI_EDIT_FORMAT = [
  'You edit code across files. Answer only with SEARCH/REPLACE blocks. Before each block, write the',
  'path of the file it changes on a line of its own, exactly as given:',
  '',
  'path/to/file.ext',
  '<<<<<<< SEARCH',
  'lines copied exactly from that file, enough to be unique in it',
  '=======',
  'the lines that replace them',
  '>>>>>>> REPLACE',
  '',
  'Copy SEARCH lines character for character, indentation included. Only change the files shown. No explanations.',
].join('\n');

/** One file as a multi-file action reads it: an open document (with its version) or the disk's text. */
export interface FileText {
  uri: string;
  abs: string;
  rel: string;
  text: string;
  /** The open document's version; null for a file read from disk. */
  version: number | null;
  lang: LanguageName | undefined;
}

export interface MultiFileDeps {
  /** The open document of a URI. */
  open: (uri: string) => Doc | undefined;
  /** The workspace index, when there is one (no folders or context off: none). */
  index: () => WorkspaceIndex | undefined;
  relativePath: (uriOrAbs: string) => string;
  /** The workspace folder holding a file (new test files go under it). */
  rootOf: (uri: string) => string | undefined;
  /** Files outside the workspace (by real path) are never read for a prompt nor edited; a new file never lands outside. */
  paths: Pick<PathPolicy, 'outsideWorkspace' | 'resolvesInside'>;
  /** A sliced parse off the event loop (the ParseService): undefined when it gives up. */
  parse?: (lang: LanguageName, text: string) => Promise<Tree | undefined>;
  /**
   * The syntax errors `edits` add to `text`, worked out in the index's worker thread (see
   * ActionDeps.checkOffThread): null when there is nothing to check against, 'unavailable' when
   * no worker runs; then `parse` counts here, in slices.
   */
  checkOffThread?: (lang: LanguageName, text: string, edits: readonly OffsetEdit[]) => Promise<EditCheck | null | 'unavailable'>;
  chat: (messages: ChatMessage[], sources: SourceRef[], task: string, signal: AbortSignal) => Promise<ChatAnswer>;
  debug: (msg: string) => void;
}

export interface MultiRequest {
  doc: Doc;
  version: number;
  start: number;
  end: number;
  instruction?: string;
  signal: AbortSignal;
}

/** The name of the function or class that starts at [start, end): from the tree, else the first line. */
export function unitName(doc: Doc, start: number, end: number): string | undefined {
  const tree = doc.tree?.current();
  for (const n of tree ? ancestors(tree, start, Math.max(start, end - 1)) : []) {
    const name = n.childForFieldName('name');
    if (name && n.startIndex <= start + 1 && n.endIndex >= end - 1) return name.text;
  }
  const first = doc.text.getText().slice(start, end).split('\n')[0] ?? '';
  return /(?:function\*?|def|class|func(?:\s*\([^)]*\))?|fn|interface|struct)\s+([A-Za-z_$][\w$]*)/.exec(first)?.[1];
}

/**
 * Syntax errors in `text`; undefined without a grammar or a parser, when the parse is given up,
 * or when the file is too broken to count (nothing to check against).
 */
async function countErrors(deps: MultiFileDeps, lang: LanguageName | undefined, text: string): Promise<number | undefined> {
  const tree = lang && deps.parse ? await deps.parse(lang, text) : undefined;
  return tree ? errorCountWithin(tree) : undefined;
}

/**
 * The syntax errors `edits` add to `text` (0 when none, or when there is nothing to check
 * against). In the index worker when it runs: the file, then the edited file parsed
 * incrementally from its tree, off the event loop. Else here: two whole parses in slices, each
 * up to its budget (100 ms + 1 ms per 1,000 characters): for a 400 kB file up to a second of
 * this thread's time per check, two with the retry, which was the fuzzer's 2-3 s code actions.
 */
async function addedErrors(deps: MultiFileDeps, lang: LanguageName | undefined, text: string, edits: readonly OffsetEdit[], edited: string): Promise<number> {
  if (!lang) return 0;
  if (deps.checkOffThread) {
    const r = await deps.checkOffThread(lang, text, edits);
    if (r !== 'unavailable') return Math.max(0, r?.added ?? 0);
  }
  const after = await countErrors(deps, lang, edited);
  const before = after === undefined ? undefined : await countErrors(deps, lang, text);
  return after !== undefined && before !== undefined ? Math.max(0, after - before) : 0;
}

export class MultiFileActions {
  constructor(private readonly deps: MultiFileDeps) {}

  /** An open document's text and version, else the file on disk (small, text only), else undefined. */
  fileText(uri: string): FileText | undefined {
    const abs = uriToPath(uri);
    const doc = this.deps.open(uri);
    const rel = this.deps.relativePath(uri);
    if (doc) return doc.binary ? undefined : { uri, abs: abs ?? uri, rel, text: doc.text.getText(), version: doc.text.version, lang: doc.tree?.language.name ?? languageOf(doc.languageId, uri)?.name };
    if (!abs) return undefined;
    try {
      if (statSync(abs).size > MAX_READ_BYTES) return undefined;
      const text = readFileSync(abs, 'utf8');
      if (text.includes('\u0000')) return undefined;
      return { uri, abs, rel, text, version: null, lang: languageOf('', abs)?.name };
    } catch {
      return undefined;
    }
  }

  /** Another file than the document acted on: never one whose real path is outside the workspace. */
  private fileTextAbs(abs: string): FileText | undefined {
    if (this.deps.paths.outsideWorkspace(abs)) {
      this.deps.debug(`${abs} lies outside the workspace folders (by its real path): not read`);
      return undefined;
    }
    return this.fileText(pathToFileURL(abs).href);
  }

  /** Why the new test file must not be created where the plan puts it: a link on the way leads out of the folder. */
  private escapes(target: string, root: string, rel: string): string | undefined {
    const r = this.deps.paths.resolvesInside(target, root);
    return r.inside ? undefined : `${rel} would be created at ${r.real}, outside the workspace folder ${root} (a symbolic link on its way leads out of it); no test file was created`;
  }

  /** generateTests: a new test file beside the project's tests, in their framework and style. */
  async generateTests(req: MultiRequest): Promise<ActionOutcome> {
    const { doc } = req;
    const text = doc.text.getText();
    const lang = doc.tree?.language.name ?? languageOf(doc.languageId, doc.uri)?.name;
    if (!lang) return { kind: 'unsupported', reason: `tests can be generated for TypeScript, JavaScript, Python, Go, Rust and Java files, not ${doc.languageId}` };
    const root = this.deps.rootOf(doc.uri);
    if (!root) return { kind: 'unsupported', reason: 'generating tests needs a workspace folder to put the new file in' };
    const unit = unitName(doc, req.start, req.end) ?? 'unit';
    const source = this.deps.relativePath(doc.uri);
    const index = this.deps.index();
    // The layout is read from this workspace folder's files only (paths are relative to it).
    const under = root.endsWith(sep) ? root : root + sep;
    const files = index ? [...index.entries()].filter((e) => e.abs.startsWith(under)).map((e) => e.rel) : [];
    const readRel = (rel: string): string | undefined => this.fileTextAbs(join(root, ...rel.split('/')))?.text;
    const exists = (rel: string) => {
      try {
        statSync(join(root, ...rel.split('/')));
        return true;
      } catch {
        return false;
      }
    };
    const plan = planTests({ source, lang, unit, files, read: readRel, exists });
    const code = text.slice(req.start, req.end);
    const user = [
      `Write unit tests for \`${unit}\` from ${source}, as a new file ${plan.path}.`,
      `Framework: ${plan.framework}. Reach the code under test with: ${plan.importHint}`,
      'Cover the normal cases, the edge cases and the errors it can raise. Follow the style of the example test file when there is one.',
      'Answer with the complete new file in a single fenced code block and nothing else.',
      '',
      `The code under test (${source}):`,
      fenced(doc.languageId, code),
    ];
    const sources: SourceRef[] = [{ path: source, text: code }];
    // The whole file, when small, shows the imports and helpers the tests need.
    if (text.length <= 12_000 && text !== code) {
      user.push('', `All of ${source}:`, fenced(doc.languageId, text));
      sources[0] = { path: source, text };
    }
    if (plan.example) {
      const ex = plan.example.text.split('\n').slice(0, EXAMPLE_LINES).join('\n');
      user.push('', `An existing test file of the project (${plan.example.path}), for its style:`, fenced(languageOf('', plan.example.path)?.name ?? '', ex));
      sources.push({ path: plan.example.path, text: ex });
    }
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You write unit tests that compile and pass. Answer with the complete new test file in one fenced code block, nothing else.' },
      { role: 'user', content: user.join('\n') },
    ];
    const newLang = languageOf('', plan.path)?.name;
    const target = join(root, ...plan.path.split('/'));
    const escape = this.escapes(target, root, plan.path);
    if (escape) return { kind: 'failed', reason: escape };
    const uri = pathToFileURL(target).href;
    this.deps.debug(`generateTests for ${unit} in ${source}: ${plan.path} (${plan.why}; ${plan.framework})`);
    let lastBackend = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await this.deps.chat(messages, sources, 'generateTests', req.signal);
      if (answer.kind !== 'text') return answer;
      lastBackend = answer.backend;
      let problem: string;
      const body = extractFenced(answer.text) ?? (answer.text.includes('```') ? undefined : answer.text);
      if (body === undefined || body.trim() === '') problem = 'the answer holds no test file in a fenced code block';
      else {
        const content = body.endsWith('\n') ? body : `${body}\n`;
        // A new file's errors: those it adds to an empty one.
        const errors = await addedErrors(this.deps, newLang, '', [{ start: 0, end: 0, newText: content }], content);
        if (errors === 0) {
          if (exists(plan.path)) return { kind: 'stale', reason: `${plan.path} was created while the model answered; ask again` };
          const late = this.escapes(target, root, plan.path);
          if (late) return { kind: 'failed', reason: late };
          return { kind: 'workspace', changes: [], creates: [{ uri, text: content }], backend: answer.backend, model: answer.model, summary: `${plan.path} (${plan.why})` };
        }
        problem = `the test file does not parse: ${errors} syntax error${errors === 1 ? '' : 's'}`;
      }
      this.deps.debug(`generateTests: answer rejected (${problem})${attempt === 0 ? '; retrying once' : ''}`);
      if (attempt === 1) return { kind: 'rejected', reason: `the model's test file was rejected: ${problem}`, backend: lastBackend };
      messages.push({ role: 'assistant', content: answer.text }, { role: 'user', content: `That was rejected: ${problem}. Answer again with the complete, valid test file in one fenced code block.` });
    }
    return { kind: 'failed', reason: 'unreachable' };
  }

  /** updateCallSites: the definition as it is now, and every call found through the index, edited in one WorkspaceEdit. */
  async updateCallSites(req: MultiRequest): Promise<ActionOutcome> {
    const { doc } = req;
    const text = doc.text.getText();
    const lang = doc.tree?.language.name ?? languageOf(doc.languageId, doc.uri)?.name;
    const name = unitName(doc, req.start, req.end);
    if (!name || !lang) return { kind: 'unsupported', reason: 'no function name found at the action\'s range' };
    const def = TextDocument.create(doc.uri, doc.languageId, req.version, text);
    const defFrom = def.positionAt(req.start).line;
    const defTo = def.positionAt(req.end).line;
    const defAbs = uriToPath(doc.uri);
    const self = this.fileText(doc.uri)!;
    const index = this.deps.index();
    const files: FileText[] = [self];
    if (index && defAbs) {
      for (const e of candidateFiles(index.entries(), defAbs, lang, name, (f, s) => index.resolveImport(f.abs, f.lang, s))) {
        if (e.abs === defAbs) continue;
        const f = this.fileTextAbs(e.abs);
        if (f) files.push(f);
      }
    }
    const withSites: { file: FileText; lines: number }[] = [];
    const parts: string[] = [];
    let total = 0;
    let cut = false;
    for (const f of files) {
      const sites = findCalls(f.text, name, f === self ? { from: defFrom, to: defTo } : undefined);
      if (sites.length === 0) continue;
      if (withSites.length >= MAX_FILES || total >= MAX_SITES) {
        cut = true;
        continue;
      }
      const kept = sites.slice(0, MAX_SITES - total);
      total += kept.length;
      withSites.push({ file: f, lines: kept.length });
      const ex = excerpts(f.text, kept).map((x) => `(lines ${x.start + 1}-${x.start + x.text.split('\n').length})\n${fenced(languageOf('', f.abs)?.name ?? '', x.text)}`);
      parts.push(`${f.rel}\n${ex.join('\n')}`);
    }
    if (withSites.length === 0) return { kind: 'failed', reason: `no calls of ${name} found in the workspace (looked in ${files.length} file${files.length === 1 ? '' : 's'})` };
    const whole = lineScope(text, req.start, req.end);
    const defCode = text.slice(whole.start, whole.end);
    const user = [`The function \`${name}\` in ${self.rel} has a new signature. Update every call below so it matches the new definition; keep each call's meaning. Do not change the definition itself.`, '', `The definition now (${self.rel}):`, fenced(doc.languageId, defCode)];
    const before = this.savedDefinition(doc.uri, name, text);
    if (before) user.push('', 'The definition as last saved, for comparison:', fenced(doc.languageId, before));
    user.push('', 'The calls, by file:', '', parts.join('\n\n'));
    if (cut) user.push('', `(More calls exist beyond the first ${MAX_FILES} files or ${MAX_SITES} calls; they are not shown.)`);
    const sources: SourceRef[] = [{ path: self.rel, text: defCode }, ...withSites.map((w) => ({ path: w.file.rel, text: w.file.text }))];
    this.deps.debug(`updateCallSites for ${name}: ${total} calls in ${withSites.length} files${cut ? ' (cut)' : ''}`);
    return this.editFiles(req, withSites.map((w) => w.file), [{ role: 'system', content: MULTI_EDIT_FORMAT }, { role: 'user', content: user.join('\n') }], sources, 'updateCallSites');
  }

  /** tandem.edit with scope "workspace": the document and the files it imports or that import it. */
  async editWorkspace(req: MultiRequest): Promise<ActionOutcome> {
    const { doc } = req;
    const self = this.fileText(doc.uri);
    if (!self) return { kind: 'unsupported', reason: `${doc.uri} is not a text file tandem can edit` };
    const files: FileText[] = [self];
    const abs = uriToPath(doc.uri);
    const index = this.deps.index();
    const entry = abs ? index?.get(abs) : undefined;
    if (index && abs) {
      const related = new Set<string>();
      for (const i of entry?.imports ?? []) for (const f of index.resolveImport(abs, entry!.lang, i.source)) related.add(f);
      for (const e of importers(index.entries(), abs, (f, s) => index.resolveImport(f.abs, f.lang, s))) related.add(e.abs);
      related.delete(abs);
      for (const r of related) {
        if (files.length > MAX_RELATED) break;
        const f = this.fileTextAbs(r);
        if (f && f.text.length <= MAX_RELATED_CHARS) files.push(f);
      }
    }
    const sel = TextDocument.create(doc.uri, doc.languageId, req.version, self.text);
    const a = sel.positionAt(req.start).line + 1;
    const b = sel.positionAt(Math.max(req.start, req.end - 1)).line + 1;
    const user = [`Edit as asked: ${(req.instruction ?? '').trim()}`, '', `The request is about ${self.rel}${req.end > req.start ? `, lines ${a}-${b}` : ''}. Change any of the files below as the request needs, and no others.`];
    for (const f of files) user.push('', f.rel, fenced(languageOf('', f.abs)?.name ?? '', f.text));
    const sources: SourceRef[] = files.map((f) => ({ path: f.rel, text: f.text }));
    return this.editFiles(req, files, [{ role: 'system', content: MULTI_EDIT_FORMAT }, { role: 'user', content: user.join('\n') }], sources, 'edit');
  }

  /** The definition of `name` in the file as saved on disk, when it differs from the open text. */
  private savedDefinition(uri: string, name: string, now: string): string | undefined {
    const abs = uriToPath(uri);
    if (!abs) return undefined;
    let saved: string;
    try {
      saved = readFileSync(abs, 'utf8');
    } catch {
      return undefined;
    }
    if (saved === now) return undefined;
    const lines = saved.split('\n');
    const at = lines.findIndex((l) => definesName(l, name));
    if (at < 0) return undefined;
    const sig = lines.slice(at, at + 3).join('\n');
    return now.includes(sig) ? undefined : sig;
  }

  /**
   * Asks for SEARCH/REPLACE blocks over `files`, applies them to our copies, checks syntax (one
   * retry with the problem fed back) and versions, and returns one edit per changed file.
   */
  private async editFiles(req: MultiRequest, files: FileText[], messages: ChatMessage[], sources: SourceRef[], task: string): Promise<ActionOutcome> {
    let lastBackend = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await this.deps.chat(messages, sources, task, req.signal);
      if (answer.kind !== 'text') return answer;
      lastBackend = answer.backend;
      const stale = this.staleFile(req, files);
      if (stale) return { kind: 'stale', reason: stale };
      const applied = await this.applyAnswer(answer.text, files);
      let problem: string;
      if (applied.ok) {
        if (applied.changes.length === 0) problem = 'the blocks change nothing';
        else {
          const broken = applied.changes.find((c) => c.addedErrors > 0);
          if (!broken) {
            return {
              kind: 'workspace',
              changes: applied.changes.map((c) => ({ uri: c.file.uri, version: c.file.version, edits: c.edits })),
              creates: [],
              backend: answer.backend,
              model: answer.model,
              summary: applied.changes.map((c) => c.file.rel).join(', '),
            };
          }
          problem = `${broken.file.rel} would not parse: the edit adds ${broken.addedErrors} syntax error${broken.addedErrors === 1 ? '' : 's'}`;
        }
      } else problem = applied.error;
      this.deps.debug(`${task}: answer rejected (${problem})${attempt === 0 ? '; retrying once' : ''}`);
      if (attempt === 1) return { kind: 'rejected', reason: `the model's edit was rejected: ${problem}`, backend: lastBackend };
      messages.push({ role: 'assistant', content: answer.text }, { role: 'user', content: `That edit was rejected: ${problem}. Answer again: SEARCH/REPLACE blocks, each after the path of its file, with SEARCH lines copied exactly from that file, keeping every file valid.` });
    }
    return { kind: 'failed', reason: 'unreachable' };
  }

  /** A file changed since it was read: the edit's offsets would land on the wrong text. */
  private staleFile(req: MultiRequest, files: FileText[]): string | undefined {
    if (req.doc.text.version !== req.version) return `${req.doc.uri} changed since the action was offered (version ${req.version}, now ${req.doc.text.version}); ask again`;
    for (const f of files) {
      const now = this.fileText(f.uri);
      if (!now || now.text !== f.text) return `${f.rel} changed while the model answered; ask again`;
    }
    return undefined;
  }

  /** Blocks grouped by the file they name; a block naming no file belongs to the only file, if there is one. */
  async applyAnswer(answer: string, files: FileText[]): Promise<{ ok: true; changes: { file: FileText; edits: RangedEdit[]; addedErrors: number }[] } | { ok: false; error: string }> {
    const { blocks, errors } = parseSearchReplace(answer);
    if (blocks.length === 0) return { ok: false, error: errors[0] ?? 'the answer holds no SEARCH/REPLACE block' };
    const byFile = new Map<FileText, EditBlock[]>();
    for (const [n, b] of blocks.entries()) {
      const f = b.path ? matchFile(b.path, files) : files.length === 1 ? files[0] : undefined;
      if (!f) return { ok: false, error: b.path ? `block ${n + 1} names ${b.path}, which is not one of the files given (${files.map((x) => x.rel).join(', ')})` : `block ${n + 1} names no file` };
      byFile.set(f, [...(byFile.get(f) ?? []), b]);
    }
    const changes: { file: FileText; edits: RangedEdit[]; addedErrors: number }[] = [];
    for (const [f, bs] of byFile) {
      const r = applyBlocks(f.text, bs);
      if (!r.ok) return { ok: false, error: `${f.rel}: ${r.error}` };
      const edits = r.edits.map((e) => tighten(f.text, e)).filter((e) => e.start !== e.end || e.newText !== '');
      if (edits.length === 0) continue;
      const snap = TextDocument.create(f.uri, 'plaintext', 0, f.text);
      const added = await addedErrors(this.deps, f.lang, f.text, edits, r.text);
      changes.push({ file: f, edits: edits.map((e) => ({ ...e, range: { start: snap.positionAt(e.start), end: snap.positionAt(e.end) } })), addedErrors: added });
    }
    return { ok: true, changes };
  }
}

/** The file a block's path names: exactly, else the one file whose path ends with it. */
function matchFile(path: string, files: FileText[]): FileText | undefined {
  const p = path.replace(/^\.\//, '').split('\\').join('/');
  const exact = files.find((f) => f.rel === p);
  if (exact) return exact;
  const tail = files.filter((f) => f.rel.endsWith(`/${p}`) || p.endsWith(`/${f.rel}`) || posix.basename(f.rel) === p);
  return tail.length === 1 ? tail[0] : undefined;
}
