// Next-edit prompts, each laid out as its model family was trained: Zed's Zeta, Sweep's next-edit
// models, and a plain instruct format for chat models. Each format renders a prompt around an
// editable region of whole lines and reads the region back out of the model's answer.
import type { NextEditFormatName } from '../config/schema.js';
import type { ChatMessage, SourceRef } from '../models/types.js';
import type { EditStep } from './history.js';
import { TextLines } from '../util/textLines.js';

/** What a next-edit prompt is made from, already cleared for the backend it goes to (nextEdit/context.ts). */
export interface NextEditInput {
  /** The current file's workspace-relative path. */
  path: string;
  /** Its text now. */
  text: string;
  /** The cursor, a UTF-16 offset into `text`. */
  cursor: number;
  /** The user's recent edit steps, oldest first (this file's and others'). */
  events: EditStep[];
  /** Other files' text lately viewed, each with its path (formats that take related files). */
  related: { path: string; text: string }[];
}

/** The editable region: whole lines `startLine..endLine` (exclusive) of the text, and their offsets. */
export interface Region {
  startLine: number;
  endLine: number;
  /** Offset of the region's first character. */
  start: number;
  /** Offset just past its last line's text (before that line's line break). */
  end: number;
  /** The region's text now: its lines joined by '\n' (a CR before a line break is not part of a line). */
  text: string;
}

export interface NextEditPrompt {
  format: NextEditFormatName;
  /** A raw completion prompt (zeta, sweep). */
  prompt?: string;
  /** Chat messages (instruct). */
  messages?: ChatMessage[];
  stop: string[];
  region: Region;
  /** Every file whose text the prompt holds, with that text: the privacy gate's sources. */
  sources: SourceRef[];
}

/** The region as the model rewrote it, or why its answer cannot be used. */
export type ParsedAnswer = { ok: true; text: string } | { ok: false; reason: string };

export interface NextEditFormat {
  name: NextEditFormatName;
  render(input: NextEditInput): NextEditPrompt;
  /** `finished`: the answer ended on its own (a stop or end of sequence), not at the token limit. */
  parse(answer: string, finished: boolean): ParsedAnswer;
}

export const REGION_START = '<|editable_region_start|>';
export const REGION_END = '<|editable_region_end|>';
export const ZETA_CURSOR = '<|user_cursor_is_here|>';
export const ZETA_START_OF_FILE = '<|start_of_file|>';
const FILE_SEP = '<|file_sep|>';

/**
 * Whole lines around the cursor's: `above` before it and `below` after it, shifted inward at the
 * file's ends so the region keeps its size where the file has the lines.
 */
export function regionAround(text: string, cursor: number, above: number, below: number, lines = new TextLines(text)): Region {
  const line = lines.lineAt(cursor);
  // The cursor after the final line break: the empty line it is on counts.
  const count = Math.max(lines.count, line + 1);
  let startLine = line - above;
  let endLine = line + below + 1;
  if (startLine < 0) {
    endLine = Math.min(count, endLine - startLine);
    startLine = 0;
  }
  if (endLine > count) {
    startLine = Math.max(0, startLine - (endLine - count));
    endLine = count;
  }
  const start = lines.offset(startLine);
  const end = lines.offset(endLine - 1) + lines.line(endLine - 1).length;
  return { startLine, endLine, start, end, text: lines.slice(startLine, endLine).join('\n') };
}

/** The step's hunk as a unified diff without the file header lines (as Zed's `unified_diff` writes it). */
function hunk(step: EditStep): string {
  const oldCount = step.before.length;
  const newCount = step.after.length;
  const at = (count: number) => step.line + (count === 0 ? 0 : 1);
  const lines = [`@@ -${at(oldCount)},${oldCount} +${at(newCount)},${newCount} @@`];
  // The context lines are equal on both sides; between them the removed lines, then the added ones.
  const { head, tail } = step.context;
  for (const l of step.before.slice(0, head)) lines.push(` ${l}`);
  for (const l of step.before.slice(head, step.before.length - tail)) lines.push(`-${l}`);
  for (const l of step.after.slice(head, step.after.length - tail)) lines.push(`+${l}`);
  for (const l of step.before.slice(step.before.length - tail)) lines.push(` ${l}`);
  return lines.join('\n');
}

/** The sources a prompt holds: the current file's text, and each other piece with its path. */
function sourcesOf(input: NextEditInput, events: EditStep[], related: { path: string; text: string }[]): SourceRef[] {
  const out: SourceRef[] = [{ path: input.path, text: input.text }];
  for (const e of events) out.push({ path: e.path, text: [...e.before, ...e.after].join('\n') });
  for (const r of related) out.push({ path: r.path, text: r.text });
  return out;
}

/** The region read back out of an answer between the region markers, the cursor marker dropped. */
function betweenMarkers(answer: string, cursorMarker: string): ParsedAnswer {
  const s = answer.indexOf(REGION_START);
  if (s < 0) return { ok: false, reason: `no ${REGION_START} marker in the answer` };
  let from = s + REGION_START.length;
  if (answer[from] === '\r') from++;
  if (answer[from] === '\n') from++;
  const e = answer.indexOf(REGION_END, from);
  if (e < 0) return { ok: false, reason: `the answer stops before ${REGION_END} (cut off)` };
  let body = answer.slice(from, e);
  if (body.endsWith('\n')) body = body.slice(0, -1);
  if (body.endsWith('\r')) body = body.slice(0, -1);
  return { ok: true, text: body.split(cursorMarker).join('') };
}

// ---------------------------------------------------------------------------------------------
// Zeta (Zed's edit prediction model, zed-industries/zeta): an Alpaca-style instruction with the
// user's edits as diffs and an excerpt of the file in which the editable region is marked and the
// cursor shown; the model answers with the excerpt's region rewritten between the same markers.

export const ZETA_INSTRUCTION =
  'You are a code completion assistant and your task is to analyze user edits and then rewrite an excerpt that the user provides, suggesting the appropriate edits within the excerpt, taking into account the cursor location.';
/** Lines of the editable region above and below the cursor's line. */
export const ZETA_REGION_ABOVE = 8;
export const ZETA_REGION_BELOW = 20;
/** Read-only lines shown around the region. */
export const ZETA_CONTEXT_LINES = 24;
/** Edit events in a Zeta prompt, the newest. */
export const ZETA_MAX_EVENTS = 8;

function zetaEvents(events: EditStep[]): string {
  return events.map((e) => `User edited ${JSON.stringify(e.path)}:\n\`\`\`diff\n${hunk(e)}\n\`\`\``).join('\n\n');
}

/** The excerpt: the region and read-only lines around it, in a fence named by the path. */
function zetaExcerpt(input: NextEditInput, region: Region, lines: TextLines): string {
  const from = Math.max(0, region.startLine - ZETA_CONTEXT_LINES);
  const to = Math.min(lines.count, region.endLine + ZETA_CONTEXT_LINES);
  const rel = input.cursor - region.start;
  const marked = region.text.slice(0, rel) + ZETA_CURSOR + region.text.slice(rel);
  const out = [`\`\`\`${input.path}`];
  if (from === 0) out.push(ZETA_START_OF_FILE);
  out.push(...lines.slice(from, region.startLine), REGION_START, marked, REGION_END, ...lines.slice(region.endLine, to));
  return out.join('\n') + '\n```';
}

export const zeta: NextEditFormat = {
  name: 'zeta',
  render(input) {
    const lines = new TextLines(input.text);
    const region = regionAround(input.text, input.cursor, ZETA_REGION_ABOVE, ZETA_REGION_BELOW, lines);
    const events = input.events.slice(-ZETA_MAX_EVENTS);
    const prompt = `### Instruction:\n${ZETA_INSTRUCTION}\n\n### User Edits:\n\n${zetaEvents(events)}\n\n### User Excerpt:\n\n${zetaExcerpt(input, region, lines)}\n\n### Response:\n`;
    // Zeta writes no related files: what it was trained on has none.
    return { format: 'zeta', prompt, stop: ['<|endoftext|>', '<|im_end|>'], region, sources: sourcesOf(input, events, []) };
  },
  parse: (answer) => betweenMarkers(answer, ZETA_CURSOR),
};

// ---------------------------------------------------------------------------------------------
// Sweep next-edit (sweepai/sweep-next-edit-*, Qwen2.5-Coder fine-tunes): Qwen's repository layout
// of `<|file_sep|>` pseudo-files: related files, each recent change as a `<path>.diff` file of
// `original:`/`updated:` blocks (the changed lines only), then the 21-line window around the
// cursor as it was before the last change (`original/`), as it is (`current/`), and `updated/`,
// which the model writes. As Sweep's own Neovim client sends it to the 1.5B model
// (sweepai/cursortab.nvim, server/provider/sweep) and as clients built from the model's reference
// script (run_model.py on Hugging Face) lay it out: related files first, then the diffs and the
// three windows, and no block of the whole current file (a later template's, whose headers carry
// line ranges this one's do not); the 21 lines are Sweep's blog's.

/** The window: the cursor's line and 10 lines on each side. */
export const SWEEP_WINDOW_ABOVE = 10;
export const SWEEP_WINDOW_BELOW = 10;
export const SWEEP_MAX_EVENTS = 6;

/** The window's lines as they were before the user's last step in this file, where that step touched them. */
function sweepOriginal(input: NextEditInput, region: Region, lines: TextLines): string {
  const mine = input.events.filter((e) => e.path === input.path);
  const last = mine[mine.length - 1];
  if (!last || last.line >= region.endLine || last.line + last.after.length <= region.startLine) return region.text;
  // The last step's `after` lines stand at its line in the text now; put `before` back: the text
  // then was the lines above the step, its `before`, and the lines after its `after` (read only
  // for the window's lines).
  const n = lines.count;
  const head = Math.min(last.line, n);
  const tailFrom = last.line + last.after.length;
  const total = head + last.before.length + Math.max(0, n - tailFrom);
  const was = (i: number) => (i < head ? lines.line(i) : i < head + last.before.length ? last.before[i - head]! : lines.line(tailFrom + i - head - last.before.length));
  const delta = last.before.length - last.after.length;
  const end = Math.min(total, Math.max(region.startLine, region.endLine + delta));
  const out: string[] = [];
  for (let i = region.startLine; i < end; i++) out.push(was(i));
  return out.join('\n');
}

export const sweep: NextEditFormat = {
  name: 'sweep',
  render(input) {
    const lines = new TextLines(input.text);
    const region = regionAround(input.text, input.cursor, SWEEP_WINDOW_ABOVE, SWEEP_WINDOW_BELOW, lines);
    const events = input.events.slice(-SWEEP_MAX_EVENTS);
    const parts: string[] = [];
    for (const r of input.related) parts.push(`${FILE_SEP}${r.path}`, r.text);
    // Each change's changed lines only, without the unchanged lines around them (the step's
    // context), as Sweep's own client (sweepai/cursortab.nvim) writes its original:/updated: blocks.
    for (const e of events) {
      const { head, tail } = e.context;
      parts.push(`${FILE_SEP}${e.path}.diff`, 'original:', e.before.slice(head, e.before.length - tail).join('\n'), 'updated:', e.after.slice(head, e.after.length - tail).join('\n'));
    }
    parts.push(`${FILE_SEP}original/${input.path}`, sweepOriginal(input, region, lines), `${FILE_SEP}current/${input.path}`, region.text, `${FILE_SEP}updated/${input.path}`);
    const prompt = parts.join('\n') + '\n';
    return { format: 'sweep', prompt, stop: [FILE_SEP, '<|endoftext|>'], region, sources: sourcesOf(input, events, input.related) };
  },
  parse(answer, finished) {
    // A server that leaves its stop string in the answer: the window ends there.
    let text = answer;
    for (const s of [FILE_SEP, '<|endoftext|>']) {
      const at = text.indexOf(s);
      if (at >= 0) {
        text = text.slice(0, at);
        finished = true;
      }
    }
    if (!finished) return { ok: false, reason: 'the answer was cut off at the token limit before the window ended' };
    if (text.endsWith('\n')) text = text.slice(0, -1);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return { ok: true, text };
  },
};

// ---------------------------------------------------------------------------------------------
// Instruct: any chat model, told the task and both markers; it answers with the region rewritten
// between the markers, which are read back as Zeta's are.

export const INSTRUCT_CURSOR = '<|cursor|>';
export const INSTRUCT_SYSTEM = [
  'You predict the next edit a programmer will make to their code.',
  'You are shown their recent edits as unified diffs, code they looked at in other files, and an excerpt of the file they are in.',
  `In the excerpt, the region you may change lies between ${REGION_START} and ${REGION_END}, and ${INSTRUCT_CURSOR} marks the cursor.`,
  'Continue what the recent edits began (a rename carried to its other uses, a new parameter passed where the function is called, a field set where the type is built); change nothing else.',
  `Answer with the whole region rewritten, between ${REGION_START} and ${REGION_END} on lines of their own, without ${INSTRUCT_CURSOR} and without explanation. If no edit is due, repeat the region unchanged.`,
].join('\n');

export const instruct: NextEditFormat = {
  name: 'instruct',
  render(input) {
    const lines = new TextLines(input.text);
    const region = regionAround(input.text, input.cursor, ZETA_REGION_ABOVE, ZETA_REGION_BELOW, lines);
    const events = input.events.slice(-ZETA_MAX_EVENTS);
    const from = Math.max(0, region.startLine - ZETA_CONTEXT_LINES);
    const to = Math.min(lines.count, region.endLine + ZETA_CONTEXT_LINES);
    const rel = input.cursor - region.start;
    const parts: string[] = [];
    if (events.length > 0) parts.push('Recent edits, oldest first:', ...events.map((e) => `\`\`\`diff\n--- a/${e.path}\n+++ b/${e.path}\n${hunk(e)}\n\`\`\``));
    for (const r of input.related) parts.push(`Viewed in ${r.path}:`, `\`\`\`\n${r.text}\n\`\`\``);
    const excerpt = [...lines.slice(from, region.startLine), REGION_START, region.text.slice(0, rel) + INSTRUCT_CURSOR + region.text.slice(rel), REGION_END, ...lines.slice(region.endLine, to)].join('\n');
    parts.push(`The file ${input.path}:`, `\`\`\`\n${excerpt}\n\`\`\``);
    const messages: ChatMessage[] = [
      { role: 'system', content: INSTRUCT_SYSTEM },
      { role: 'user', content: parts.join('\n\n') },
    ];
    return { format: 'instruct', messages, stop: [], region, sources: sourcesOf(input, events, input.related) };
  },
  parse: (answer) => betweenMarkers(answer, INSTRUCT_CURSOR),
};

export const FORMATS: Record<NextEditFormatName, NextEditFormat> = { zeta, sweep, instruct };

const BY_MODEL_NAME: [RegExp, NextEditFormatName][] = [
  [/zeta/i, 'zeta'],
  [/sweep|next-?edit/i, 'sweep'],
];

/** The format named in config, else the one the model name suggests, else instruct. */
export function nextEditFormatFor(modelId: string, override?: NextEditFormatName): NextEditFormat {
  if (override) return FORMATS[override];
  for (const [re, name] of BY_MODEL_NAME) if (re.test(modelId)) return FORMATS[name];
  return instruct;
}
