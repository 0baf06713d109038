// The call sites of a function across the workspace: files found through the index, calls found by name.
import { posix } from 'node:path';
import type { FileEntry } from '../context/index.js';
import type { LanguageName } from '../syntax/languages.js';

export interface CallSite {
  /** 0-based line of the call. */
  line: number;
}

export interface FileSites {
  abs: string;
  rel: string;
  sites: CallSite[];
  /** Lines around the calls, merged: what the prompt shows of this file. */
  excerpts: { start: number; text: string }[];
}

/** Lines shown before and after each call. */
const AROUND = 3;
/** A prompt names at most this many files and calls: beyond, the user is told it was cut. */
export const MAX_FILES = 12;
export const MAX_SITES = 60;

const FAMILY: Record<LanguageName, string> = { typescript: 'js', tsx: 'js', javascript: 'js', python: 'py', go: 'go', rust: 'rs', java: 'java' };

/**
 * Files that can call `name` defined in `defAbs`: the file itself, files whose imports resolve to
 * it or bind the name, and (Go, Java: one package per directory) files beside it.
 */
export function candidateFiles(entries: Iterable<FileEntry>, defAbs: string, defLang: LanguageName, name: string, resolve: (e: FileEntry, source: string) => string[]): FileEntry[] {
  const out: FileEntry[] = [];
  const dir = posix.dirname(defAbs.split('\\').join('/'));
  const packaged = defLang === 'go' || defLang === 'java';
  for (const e of entries) {
    if (FAMILY[e.lang] !== FAMILY[defLang]) continue;
    if (e.abs === defAbs) {
      out.push(e);
      continue;
    }
    if (packaged && posix.dirname(e.abs.split('\\').join('/')) === dir) {
      out.push(e);
      continue;
    }
    if (e.imports.some((i) => i.names.some((n) => n.imported === name) || resolve(e, i.source).includes(defAbs))) out.push(e);
  }
  return out;
}

/** Files whose imports resolve to `targetAbs`. */
export function importers(entries: Iterable<FileEntry>, targetAbs: string, resolve: (e: FileEntry, source: string) => string[]): FileEntry[] {
  const out: FileEntry[] = [];
  for (const e of entries) if (e.abs !== targetAbs && e.imports.some((i) => resolve(e, i.source).includes(targetAbs))) out.push(e);
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A line that defines `name` rather than calls it, in any of the languages. */
export function definesName(line: string, name: string): boolean {
  const n = escape(name);
  return new RegExp(`(?:\\bfunction\\*?\\s+|\\bdef\\s+|\\bfunc\\s+(?:\\([^)]*\\)\\s*)?|\\bfn\\s+)${n}\\b`).test(line);
}

function isComment(line: string): boolean {
  return /^\s*(?:\/\/|#|\*|\/\*)/.test(line);
}

/**
 * The calls of `name` in `text` (`name(`, `x.name(`, `pkg.name(`), outside comment lines and
 * outside `skip` (the definition itself, 0-based lines inclusive).
 */
export function findCalls(text: string, name: string, skip?: { from: number; to: number }): CallSite[] {
  const re = new RegExp(`(?<![\\w$])${escape(name)}\\s*(?:<[^<>()]*>\\s*)?\\(`);
  const lines = text.split('\n');
  const out: CallSite[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (skip && i >= skip.from && i <= skip.to) continue;
    const l = lines[i]!;
    if (!l.includes(name) || isComment(l) || !re.test(l) || definesName(l, name)) continue;
    out.push({ line: i });
  }
  return out;
}

/** Merged windows of whole lines around the calls. */
export function excerpts(text: string, sites: readonly CallSite[]): { start: number; text: string }[] {
  const lines = text.split('\n');
  // The empty "line" after a final line break is not shown.
  const lastLine = text.endsWith('\n') ? lines.length - 2 : lines.length - 1;
  const out: { start: number; end: number }[] = [];
  for (const s of sites) {
    const start = Math.max(0, s.line - AROUND);
    const end = Math.min(lastLine, s.line + AROUND);
    const last = out[out.length - 1];
    if (last && start <= last.end + 1) last.end = Math.max(last.end, end);
    else out.push({ start, end });
  }
  return out.map((w) => ({ start: w.start, text: lines.slice(w.start, w.end + 1).join('\n') }));
}
