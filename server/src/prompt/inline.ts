// The inline prompt: prefix and suffix windows at whole lines, the file's head kept, rendered by a FIM template.
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { LanguageInfo } from '../syntax/languages.js';
import type { SyntaxNode, Tree } from '../syntax/tree.js';
import { pack, type PackOptions, type Packed } from '../context/pack.js';
import type { Candidate, SnippetKind } from '../context/types.js';
import type { FimTemplate } from './templates.js';
import { CHARS_PER_TOKEN, estimateTokens, tokensToChars } from './tokens.js';
import { ancestors } from '../syntax/ancestors.js';

export interface Segment {
  /** Current-file parts, or a context snippet's kind (definition, enclosing, similar, recentEdit). */
  kind: 'path' | 'imports' | 'scope' | 'prefix' | 'suffix' | SnippetKind;
  /** Workspace-relative path of the text's source file (the router's privacy check reads it). */
  path?: string;
  tokens: number;
}

export interface PromptBudget {
  contextWindow: number;
  maxTokens: number;
  /** Our own cap below the context window, for latency. */
  maxPromptTokens: number;
}

export interface InlinePromptInput {
  doc: TextDocument;
  offset: number;
  language: LanguageInfo | undefined;
  /** Comment prefix for the path line (languages without a grammar included). */
  lineComment: string;
  tree: Tree | undefined;
  relPath: string;
  template: FimTemplate;
  budget: PromptBudget;
  /** Cross-file context: candidates from the context sources, packed into up to `share` of the budget. */
  context?: PromptContext;
  /**
   * The document line of `doc`'s first line, when `doc` is a window of a big document (the rows
   * reported, and those of current-file snippets left out, are the document's); 0 otherwise.
   */
  lineBase?: number;
}

export interface PromptContext {
  candidates: Candidate[];
  /** Most tokens of context in one prompt (context.maxTokens). */
  maxTokens: number;
  /** Largest share of the prompt budget context may take (context.share). */
  share: number;
  /** The workspace folder's name, for the repository-level layout. */
  repoName: string;
}

export interface InlinePrompt {
  prompt: string;
  stop: string[];
  segments: Segment[];
  budget: { contextWindow: number; prompt: number; maxTokens: number };
  /** First line of the prefix window (0-based), for tests and `prompt --json`. */
  windowStartLine: number;
  /** Every file the prompt holds text from, with that text: what the privacy gate and the audit read. */
  sources: { path: string; text: string }[];
  /** The pieces the prompt was made of, for servers that lay out fill-in-the-middle themselves. */
  parts: { prefix: string; suffix: string; snippets: { path: string; text: string }[] };
}

/**
 * The prefix window starts on a multiple of this many lines, so that while the user types
 * inside one region the start of the prompt stays byte-identical and vLLM's prefix cache hits.
 */
export const WINDOW_SNAP_LINES = 16;
const PREFIX_SHARE = 0.75;
/** Room left for the template's tokens and the tokenizer's disagreement with our estimate. */
const SAFETY_TOKENS = 32;
const HEADER_SHARE = 0.25;
const MAX_SIGNATURE_LINES = 4;
const MAX_TOP_LEVEL_SCAN = 64;

export function buildInlinePrompt(input: InlinePromptInput): InlinePrompt {
  const { template, budget } = input;
  const overhead = estimateTokens(template.render('', ''));
  const available = Math.max(64, Math.min(budget.maxPromptTokens, budget.contextWindow - budget.maxTokens - SAFETY_TOKENS) - overhead);
  const ctx = input.context;
  const repo = ctx && template.renderRepo ? template.renderRepo : undefined;
  const pathLine = `${input.lineComment} Path: ${input.relPath}\n`;
  const lineBase = input.lineBase ?? 0;

  let caret = caretWindows(input, available, repo ? '' : pathLine);
  let packed: Packed | undefined;
  if (ctx && ctx.candidates.length > 0 && ctx.maxTokens > 0) {
    // Context takes up to its share off the top; the windows are sized for what is left, and
    // whatever context does not use goes back to them.
    const repoHead = repo ? estimateTokens(repo({ repoName: ctx.repoName, files: [], path: input.relPath, prefix: '', suffix: '' })) - overhead : 0;
    const share = Math.min(ctx.maxTokens, Math.floor(available * ctx.share));
    const opts = (c: CaretWindows, budgetChars: number): PackOptions => ({
      budgetChars,
      excluded: (path, row) => path === input.relPath && row >= c.startLine + lineBase && row <= c.endLine + lineBase,
      fileOverheadChars: repo ? (path) => path.length + 16 : (path) => path.length + input.lineComment.length + 8,
      linePrefixChars: repo ? 0 : input.lineComment.length + 1,
    });
    const small = caretWindows(input, available - share, repo ? '' : pathLine);
    const first = pack(ctx.candidates, opts(small, tokensToChars(share - repoHead)));
    if (first.files.length > 0) {
      const used = Math.ceil(first.chars / CHARS_PER_TOKEN) + repoHead;
      caret = caretWindows(input, available - used, repo ? '' : pathLine);
      // The windows grew into lines a current-file snippet held: pack the chosen snippets again
      // without them, in the room the first pass counted for them (what it rendered is less: with a
      // single snippet, that left no room for it and dropped all context). Each costs no more than
      // before, so all of them fit, and the context grows no larger than the windows allowed for.
      packed = caret.startLine < small.startLine || caret.endLine > small.endLine ? pack(first.chosen, opts(caret, first.cost)) : first;
      if (packed.files.length === 0) packed = undefined;
    }
  }

  const path = input.relPath;
  const body = caret.header.imports + caret.header.scopes + caret.window;
  let prompt: string;
  const segments: Segment[] = [];
  if (packed && repo && ctx) {
    prompt = repo({ repoName: ctx.repoName, files: packed.files, path, prefix: body, suffix: caret.suffix });
    for (const sg of packed.segments) segments.push({ kind: sg.kind, path: sg.path, tokens: Math.max(1, Math.ceil(sg.chars / CHARS_PER_TOKEN)) });
    segments.push({ kind: 'path', path, tokens: estimateTokens(path) + 2 });
  } else {
    let head = '';
    if (packed) {
      // No repository layout in this model's training: the snippets as comments, each under its path.
      const c = input.lineComment;
      for (const f of packed.files) head += `${c} Path: ${f.path}\n` + f.text.split('\n').map((l) => (l ? `${c} ${l}` : c)).join('\n') + '\n';
      for (const sg of packed.segments) segments.push({ kind: sg.kind, path: sg.path, tokens: Math.max(1, Math.ceil(sg.chars / CHARS_PER_TOKEN)) });
    }
    prompt = template.render(head + pathLine + body, caret.suffix);
    segments.push({ kind: 'path', path, tokens: estimateTokens(pathLine) });
  }
  if (caret.header.imports) segments.push({ kind: 'imports', path, tokens: estimateTokens(caret.header.imports) });
  if (caret.header.scopes) segments.push({ kind: 'scope', path, tokens: estimateTokens(caret.header.scopes) });
  segments.push({ kind: 'prefix', path, tokens: estimateTokens(caret.window) }, { kind: 'suffix', path, tokens: estimateTokens(caret.suffix) });
  const snippets = packed?.files ?? [];
  const sources = [{ path, text: body + caret.suffix }];
  for (const f of snippets) {
    const same = sources.find((x) => x.path === f.path);
    if (same) same.text += '\n' + f.text;
    else sources.push({ path: f.path, text: f.text });
  }
  return {
    prompt,
    stop: template.stop,
    segments,
    budget: { contextWindow: budget.contextWindow, prompt: estimateTokens(prompt), maxTokens: budget.maxTokens },
    windowStartLine: caret.startLine + lineBase,
    sources,
    parts: { prefix: pathLine + body, suffix: caret.suffix, snippets: snippets.map((f) => ({ path: f.path, text: f.text })) },
  };
}

interface CaretWindows {
  window: string;
  suffix: string;
  header: { imports: string; scopes: string };
  /** First line of the prefix window and last line of the suffix window (0-based). */
  startLine: number;
  endLine: number;
}

/** The prefix and suffix windows around the cursor within `available` tokens (the path line included). */
function caretWindows(input: InlinePromptInput, available: number, pathLine: string): CaretWindows {
  const { doc, offset } = input;
  const cursor = doc.positionAt(offset);
  const lineStart = offset - cursor.character;
  const text = doc.getText();
  let suffixChars = tokensToChars(available * (1 - PREFIX_SHARE));
  let prefixChars = tokensToChars(available * PREFIX_SHARE);

  // Suffix: rest of the current line, then whole lines while they fit.
  const lineEnd = lineEndOffset(doc, cursor.line);
  let suffixEnd = lineEnd;
  // A line longer than the whole suffix budget (minified code) is cut mid-line: a prompt the
  // model cannot take helps nobody.
  if (lineEnd - offset > suffixChars) suffixEnd = notInPair(text, offset + suffixChars);
  else if (lineEnd - offset < suffixChars && cursor.line + 1 < doc.lineCount) {
    const limit = Math.min(text.length, offset + suffixChars);
    const lastLine = doc.positionAt(limit).line;
    suffixEnd = limit >= text.length ? text.length : Math.max(lineEnd, doc.offsetAt({ line: lastLine, character: 0 }));
  }
  const suffix = text.slice(offset, suffixEnd);
  prefixChars += Math.max(0, suffixChars - suffix.length); // unused suffix room goes to the prefix
  suffixChars = suffix.length;

  const linePart = offset - lineStart;
  let roomForLines = prefixChars - pathLine.length - linePart;

  let startLine = firstLineWithin(doc, lineStart, roomForLines);
  let header: { imports: string; scopes: string } = { imports: '', scopes: '' };
  if (startLine > 0 && input.tree && input.language) {
    const shape = headShape(input);
    header = fileHead(shape, text, startLine, Math.floor(prefixChars * HEADER_SHARE));
    roomForLines -= header.imports.length + header.scopes.length;
    startLine = firstLineWithin(doc, lineStart, roomForLines);
    if (startLine > 0) header = fileHead(shape, text, startLine, Math.floor(prefixChars * HEADER_SHARE));
  }
  let windowStart = doc.offsetAt({ line: startLine, character: 0 });
  // Likewise a cursor line longer than the prefix budget: keep its last characters only.
  const lineRoom = Math.max(0, prefixChars - pathLine.length - header.imports.length - header.scopes.length);
  if (startLine === cursor.line && linePart > lineRoom) windowStart = notInPair(text, offset - lineRoom);
  const window = text.slice(windowStart, offset);
  const endLine = suffixEnd >= text.length ? doc.lineCount - 1 : doc.positionAt(suffixEnd).line;
  return { window, suffix, header, startLine, endLine };
}

/** `i`, moved forward if it would split a surrogate pair (an emoji cut in half is not text). */
function notInPair(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff ? i + 1 : i;
}

function lineEndOffset(doc: TextDocument, line: number): number {
  if (line + 1 >= doc.lineCount) return doc.getText().length;
  const next = doc.offsetAt({ line: line + 1, character: 0 });
  const text = doc.getText();
  // Exclude the line break (\n or \r\n) from "the rest of the line".
  let end = next - 1;
  if (end > 0 && text.charCodeAt(end - 1) === 13) end--;
  return end;
}

/** The first whole line such that lines [it, cursor line) fit in `room` characters, snapped for cache stability. */
function firstLineWithin(doc: TextDocument, lineStart: number, room: number): number {
  const cursorLine = doc.positionAt(lineStart).line;
  if (room <= 0) return cursorLine;
  const minOffset = lineStart - room;
  if (minOffset <= 0) return 0;
  const p = doc.positionAt(minOffset);
  let line = p.character === 0 ? p.line : p.line + 1;
  line = Math.ceil(line / WINDOW_SNAP_LINES) * WINDOW_SNAP_LINES;
  return Math.min(line, cursorLine);
}

/** What fileHead reads of the tree, read once per prompt build (the windows are sized up to three times). */
interface HeadShape {
  /**
   * The imports among the first MAX_TOP_LEVEL_SCAN top-level nodes, in order. Other nodes need no
   * row: rows only grow, so a node at or below the window start is followed by imports that are too.
   */
  imports: { startRow: number; endRow: number; startIndex: number; endIndex: number }[];
  /** Scope nodes from the cursor outwards, with their signature's last row. */
  scopes: { row: number; startIndex: number; sigEnd: number }[];
}

const headShapes = new WeakMap<InlinePromptInput, HeadShape>();

function headShape(input: InlinePromptInput): HeadShape {
  const known = headShapes.get(input);
  if (known) return known;
  const tree = input.tree!;
  const lang = input.language!;
  const imports: HeadShape['imports'] = [];
  // A cursor reads type and position without creating a node object per child: this runs per keystroke.
  const cursor = tree.walk();
  if (cursor.gotoFirstChild()) {
    for (let i = 0; i < MAX_TOP_LEVEL_SCAN; i++) {
      if (lang.importTypes.has(cursor.nodeType)) {
        imports.push({ startRow: cursor.startPosition.row, endRow: cursor.endPosition.row, startIndex: cursor.startIndex, endIndex: cursor.endIndex });
      }
      if (!cursor.gotoNextSibling()) break;
    }
  }
  const scopes: HeadShape['scopes'] = [];
  for (const node of ancestors(tree, Math.max(0, input.offset - 1))) {
    if (!lang.scopeTypes.has(node.type)) continue;
    const row = node.startPosition.row;
    const body = node.childForFieldName('body');
    // The signature ends with what precedes the body: in C-like languages `{` shares that row,
    // but a Python block starts on the next line, which is body, not signature.
    const sigEnd = body ? (body.previousSibling?.endPosition.row ?? body.startPosition.row) : row;
    scopes.push({ row, startIndex: node.startIndex, sigEnd });
  }
  const shape = { imports, scopes };
  headShapes.set(input, shape);
  return shape;
}

/**
 * What the trimmed prefix would otherwise lose: the file's imports and the signature lines of
 * the scopes around the cursor, each from above the window start, within `room` characters.
 */
function fileHead(shape: HeadShape, text: string, startLine: number, room: number): { imports: string; scopes: string } {
  let imports = '';
  for (const t of shape.imports) {
    if (t.startRow >= startLine) break;
    if (t.endRow < startLine) {
      const piece = wholeLines(text, t.startIndex, t.endIndex);
      if (imports.length + piece.length > room) break;
      imports += piece;
    }
  }

  const sigs: string[] = [];
  const seenRows = new Set<number>();
  let used = imports.length;
  for (const { row, startIndex, sigEnd } of shape.scopes) {
    if (row >= startLine || seenRows.has(row)) continue;
    const lastRow = Math.min(Math.max(row, sigEnd), row + MAX_SIGNATURE_LINES - 1, startLine - 1);
    const piece = linesText(text, startIndex, row, lastRow);
    if (used + piece.length > room) break;
    used += piece.length;
    for (let r = row; r <= lastRow; r++) seenRows.add(r);
    sigs.unshift(piece);
  }
  return { imports, scopes: sigs.join('') };
}

function wholeLines(text: string, start: number, end: number): string {
  const s = text.lastIndexOf('\n', start - 1) + 1;
  let e = text.indexOf('\n', Math.max(start, end - 1));
  e = e < 0 ? text.length : e + 1;
  const piece = text.slice(s, e);
  return piece.endsWith('\n') ? piece : piece + '\n';
}

/** Lines startRow..lastRow of the text, beginning with the line that holds `startIndex`. */
function linesText(text: string, startIndex: number, startRow: number, lastRow: number): string {
  const s = text.lastIndexOf('\n', startIndex - 1) + 1;
  let e = s;
  for (let r = startRow; r <= lastRow; r++) {
    const nl = text.indexOf('\n', e);
    if (nl < 0) {
      e = text.length;
      break;
    }
    e = nl + 1;
  }
  const piece = text.slice(s, e);
  return piece.endsWith('\n') ? piece : piece + '\n';
}
