// The edit formats we ask models for, parsed robustly, and applied to our copy of the text.

/** One SEARCH/REPLACE block: `search` must occur once in the file; empty `search` means "the whole (new) file". */
export interface EditBlock {
  path?: string;
  search: string;
  replace: string;
}

export interface TextEdit {
  /** Offsets into the original text (UTF-16). */
  start: number;
  end: number;
  newText: string;
}

export type ApplyResult = { ok: true; text: string; edits: TextEdit[] } | { ok: false; error: string };

const SEARCH = /^\s*<{5,9}\s*SEARCH\s*$/;
const DIVIDER = /^\s*={5,9}\s*$/;
const REPLACE = /^\s*>{5,9}\s*REPLACE\s*$/;
const FENCE = /^\s*(`{3,}|~{3,})(.*)$/;
/** A line that names a file before its blocks: `path/to/file.ts`, `**src/a.py**`, `File: x.go`. */
const PATH_LINE = /^\s*(?:#+\s*)?(?:file(?:name)?:\s*)?[*`]*([\w./@-]+\/?[\w.@-]*\.[A-Za-z0-9]+)[*`:]*\s*$/i;

/**
 * Reads SEARCH/REPLACE blocks out of a model's answer, whatever surrounds them: prose, code
 * fences (with or without a path after the language), CRLF line ends. Each block takes the
 * last path named before it (a line of its own, or the fence's info string).
 */
export function parseSearchReplace(output: string): { blocks: EditBlock[]; errors: string[] } {
  const lines = output.replace(/\r\n?/g, '\n').split('\n');
  const blocks: EditBlock[] = [];
  const errors: string[] = [];
  let path: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      const info = fence[2]!.trim().split(/\s+/);
      const named = info.find((w) => /[./]/.test(w) && /\.[A-Za-z0-9]+$/.test(w));
      if (named) path = named;
      continue;
    }
    if (!SEARCH.test(line)) {
      const p = PATH_LINE.exec(line);
      if (p && !/^\d+(\.\d+)*$/.test(p[1]!)) path = p[1];
      continue;
    }
    const start = i + 1;
    let div = -1;
    let end = -1;
    for (let k = start; k < lines.length; k++) {
      if (div < 0 && DIVIDER.test(lines[k]!)) div = k;
      else if (div >= 0 && REPLACE.test(lines[k]!)) {
        end = k;
        break;
      } else if (SEARCH.test(lines[k]!)) break;
    }
    if (div < 0 || end < 0) {
      errors.push(`block at line ${i + 1} is not closed (expected ======= and >>>>>>> REPLACE)`);
      continue;
    }
    blocks.push({ path, search: lines.slice(start, div).join('\n'), replace: lines.slice(div + 1, end).join('\n') });
    i = end;
  }
  return { blocks, errors };
}

/** The content of the first fenced code block (the "replace the selection" format); undefined if none. */
export function extractFenced(output: string): string | undefined {
  const lines = output.replace(/\r\n?/g, '\n').split('\n');
  const open = lines.findIndex((l) => FENCE.test(l));
  if (open < 0) return undefined;
  const marker = FENCE.exec(lines[open]!)![1]!;
  for (let k = open + 1; k < lines.length; k++) {
    const t = lines[k]!.trim();
    if (t.startsWith(marker[0]!.repeat(marker.length)) && t.replace(/[`~]/g, '') === '') return lines.slice(open + 1, k).join('\n');
  }
  // An unclosed fence (the answer was cut): everything after it.
  return lines.slice(open + 1).join('\n');
}

const indentOf = (l: string) => /^[ \t]*/.exec(l)![0];

/**
 * Finds `search` in `text` exactly, else line by line ignoring trailing whitespace, else with
 * the whole block shifted in indentation (models drift by a level). Returns the matched range
 * and the indentation to add to (or strip from) the replacement.
 */
function locate(text: string, search: string): { start: number; end: number; shift: (s: string) => string } | { error: string } {
  const exact = text.indexOf(search);
  if (search !== '' && exact >= 0) {
    if (text.indexOf(search, exact + 1) >= 0) return { error: 'the SEARCH text occurs more than once' };
    return { start: exact, end: exact + search.length, shift: (s) => s };
  }
  const hay = text.split('\n');
  const needle = search.split('\n');
  while (needle.length && needle[needle.length - 1]!.trim() === '') needle.pop();
  while (needle.length && needle[0]!.trim() === '') needle.shift();
  if (needle.length === 0) return { error: 'the SEARCH text is empty' };
  const norm = (l: string) => l.replace(/\s+$/, '');
  const strip = (l: string) => l.trim();
  const found: { line: number; delta: string; sign: 1 | -1 }[] = [];
  for (let i = 0; i + needle.length <= hay.length; i++) {
    let same = true;
    for (let k = 0; k < needle.length && same; k++) same = strip(hay[i + k]!) === strip(needle[k]!);
    if (!same) continue;
    // The indentation difference must be the same on every non-blank line.
    const first = needle.findIndex((l) => l.trim() !== '');
    const have = indentOf(hay[i + first]!);
    const want = indentOf(needle[first]!);
    const sign: 1 | -1 = have.length >= want.length ? 1 : -1;
    const delta = sign === 1 ? have.slice(0, have.length - want.length) : want.slice(0, want.length - have.length);
    const consistent = needle.every((l, k) => {
      if (l.trim() === '') return true;
      const h = norm(hay[i + k]!);
      return sign === 1 ? h === delta + norm(l) : norm(l) === delta + h;
    });
    if (consistent) found.push({ line: i, delta, sign });
  }
  if (found.length === 0) return { error: 'the SEARCH text was not found in the file' };
  if (found.length > 1) return { error: 'the SEARCH text occurs more than once' };
  const { line, delta, sign } = found[0]!;
  let start = 0;
  for (let k = 0; k < line; k++) start += hay[k]!.length + 1;
  let end = start;
  for (let k = 0; k < needle.length; k++) end += hay[line + k]!.length + (k < needle.length - 1 ? 1 : 0);
  const shift = (s: string) =>
    s
      .split('\n')
      .map((l) => (l.trim() === '' ? l : sign === 1 ? delta + l : l.startsWith(delta) ? l.slice(delta.length) : l))
      .join('\n');
  return { start, end, shift };
}

/** Applies blocks to one file's text; all or nothing. */
export function applyBlocks(text: string, blocks: EditBlock[]): ApplyResult {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const src = eol === '\r\n' ? text.replace(/\r\n/g, '\n') : text;
  const edits: TextEdit[] = [];
  for (const [n, b] of blocks.entries()) {
    if (b.search.trim() === '') {
      if (src.trim() !== '') return { ok: false, error: `block ${n + 1}: an empty SEARCH only creates a new file, and this one has text` };
      edits.push({ start: 0, end: src.length, newText: b.replace });
      continue;
    }
    const at = locate(src, b.search);
    if ('error' in at) return { ok: false, error: `block ${n + 1}: ${at.error}` };
    edits.push({ start: at.start, end: at.end, newText: at.shift(b.replace) });
  }
  edits.sort((a, b) => a.start - b.start);
  for (let k = 1; k < edits.length; k++) if (edits[k]!.start < edits[k - 1]!.end) return { ok: false, error: 'two blocks change overlapping text' };
  let out = '';
  let pos = 0;
  for (const e of edits) {
    out += src.slice(pos, e.start) + e.newText;
    pos = e.end;
  }
  out += src.slice(pos);
  if (eol === '\r\n') {
    // Map offsets back to the CRLF original so the editor gets ranges in its own text.
    const toCrlf = (offset: number) => offset + (src.slice(0, offset).match(/\n/g)?.length ?? 0);
    return { ok: true, text: out.replace(/\n/g, '\r\n'), edits: edits.map((e) => ({ start: toCrlf(e.start), end: toCrlf(e.end), newText: e.newText.replace(/\n/g, '\r\n') })) };
  }
  return { ok: true, text: out, edits };
}

/** Narrows each edit to the characters that differ, so the editor's undo and diff stay small. */
export function tighten(text: string, e: TextEdit): TextEdit {
  const old = text.slice(e.start, e.end);
  let p = 0;
  while (p < old.length && p < e.newText.length && old[p] === e.newText[p]) p++;
  // Whole lines read better in a diff: back up to the start of the line.
  while (p > 0 && old[p - 1] !== '\n') p--;
  let s = 0;
  while (s < old.length - p && s < e.newText.length - p && old[old.length - 1 - s] === e.newText[e.newText.length - 1 - s]) s++;
  while (s > 0 && old.length - s > 0 && old[old.length - s - 1] !== '\n') s--;
  return { start: e.start + p, end: e.end - s, newText: e.newText.slice(p, e.newText.length - s) };
}

/** Code in a Markdown fence that its own text cannot close (tildes when it holds backticks). */
export function fenced(lang: string, code: string): string {
  const f = code.includes('```') ? '~~~~' : '```';
  return `${f}${lang}\n${code.replace(/\n$/, '')}\n${f}`;
}

/** Whole lines around [start, end): SEARCH blocks match lines, and indentation stays visible. */
export function lineScope(text: string, start: number, end: number): { start: number; end: number } {
  const s = text.lastIndexOf('\n', Math.max(0, start - 1)) + 1;
  const lineEnd = text.indexOf('\n', Math.max(start, end - 1));
  return { start: start === 0 ? 0 : s, end: lineEnd < 0 ? text.length : lineEnd + 1 };
}
