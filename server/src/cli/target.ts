// What a CLI command is pointed at (FILE:LINE:COL, FILE:LINE[-LINE]): one parse and one set of
// checks for every command, so `explain` refuses exactly what `complete` refuses, in the same words.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { looksBinary } from '../documents.js';
import { TextLines } from '../util/textLines.js';

/** A mistake in the command's arguments (exit 2): its message is the one sentence printed. */
export class UsageError extends Error {}

export interface Target {
  file: string;
  line: number; // 0-based
  character: number; // 0-based UTF-16
}

export interface LineRange {
  file: string;
  first: number; // 1-based, inclusive
  last: number; // 1-based, inclusive
}

/** FILE:LINE:COL, 1-based as editors show them. */
export function parseTarget(spec: string | undefined): Target {
  if (!spec) throw new UsageError('expected FILE:LINE:COL (1-based line and column)');
  const m = /^(.+):(\d+):(\d+)$/.exec(spec);
  if (!m) throw new UsageError(`${spec}: expected FILE:LINE:COL (1-based line and column)`);
  const line = Number(m[2]);
  const col = Number(m[3]);
  if (line < 1 || col < 1) throw new UsageError(`${spec}: LINE and COL start at 1`);
  return { file: resolve(m[1]!), line: line - 1, character: col - 1 };
}

/** FILE:LINE or FILE:LINE-LINE, 1-based and inclusive. */
export function parseRange(spec: string | undefined): LineRange {
  const m = spec ? /^(.+):(\d+)(?:-(\d+))?$/.exec(spec) : null;
  if (!m) throw new UsageError(`${spec ?? '(nothing)'}: expected FILE:LINE or FILE:LINE-LINE (1-based lines)`);
  const first = Number(m[2]);
  const last = m[3] ? Number(m[3]) : first;
  if (first < 1) throw new UsageError(`${spec}: LINE and COL start at 1`);
  if (last < first) throw new UsageError(`${spec}: the range runs backwards (line ${last} is before line ${first})`);
  return { file: resolve(m[1]!), first, last };
}

/** The text of a file a command works on: a readable, regular text file, else a UsageError naming it. */
export function readTextFile(file: string): string {
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw new UsageError(`${file} is a directory, not a file: name a file in it`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (looksBinary(text)) throw new UsageError(`${file} is a binary file, not text: tandem sends only text files to a model`);
  return text;
}

/** Lines a position may be on: the text's, and the empty one after a final line break. */
function positionLines(lines: TextLines): number {
  return lines.lineAt(lines.text.length) + 1;
}

/** LINE (1-based) must be in the file. */
export function checkLine(spec: string, lines: TextLines, line: number): void {
  const count = positionLines(lines);
  if (line > count) throw new UsageError(`${spec}: line ${line} is past the end of the file (${count} lines)`);
}

/** The position must be in the file: its line, and a column no further than one past the line's end. */
export function checkPosition(spec: string, lines: TextLines, t: Target): void {
  checkLine(spec, lines, t.line + 1);
  const len = lines.line(t.line).length;
  if (t.character > len) throw new UsageError(`${spec}: column ${t.character + 1} is past the end of line ${t.line + 1} (${len} characters; the last column is ${len + 1})`);
}

/** Both ends of the range must be in the file. */
export function checkRange(spec: string, lines: TextLines, r: LineRange): void {
  checkLine(spec, lines, r.first);
  checkLine(spec, lines, r.last);
}

/** What marks a project's root: version control, a package manifest, or tandem's own file. */
export const ROOT_MARKERS = ['.git', 'tandem.json', 'package.json', 'pyproject.toml', 'setup.py', 'go.mod', 'Cargo.toml', 'pom.xml', 'build.gradle', 'build.gradle.kts', 'composer.json', 'Gemfile', 'deno.json'] as const;

/**
 * The workspace of a lone file: --workspace, else its enclosing project (the nearest folder above
 * it holding one of ROOT_MARKERS), else its own folder; never the current directory as such. `why`
 * says which, for the log and `prompt --json`.
 */
export function workspaceFor(file: string, explicit: string | undefined): { root: string; why: string } {
  if (explicit) {
    const dir = resolve(explicit);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--workspace ${explicit}: not a directory`);
    return { root: dir, why: '--workspace' };
  }
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const marker = ROOT_MARKERS.find((m) => existsSync(join(dir, m)));
    if (marker) return { root: dir, why: `nearest folder with ${marker}` };
    if (dirname(dir) === dir) return { root: dirname(file), why: "the file's folder (no .git, package manifest or tandem.json above it)" };
  }
}
