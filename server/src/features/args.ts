// The shapes of every command's arguments and of an action's data, checked before any of it is used: a wrong shape is -32602 naming the argument at fault.
import { ErrorCodes, ResponseError } from 'vscode-languageserver';
import { z } from 'zod';
import { ACTION_KINDS, type ActionId } from '../actions/list.js';
import { MAX_SNOOZE_MINUTES } from '../pipeline/inlineSwitch.js';
import { parseChatRequest, type ChatTaskRequest } from '../pipeline/chat.js';

const natural = z.number({ error: 'expected a non-negative integer' }).int({ error: 'expected a non-negative integer' }).min(0, { error: 'expected a non-negative integer' }).max(Number.MAX_SAFE_INTEGER);
const position = z.object({ line: natural, character: natural }, { error: 'expected a position {"line": ..., "character": ...}' });
const range = z.object({ start: position, end: position }, { error: 'expected a range {"start": ..., "end": ...}' });
const uri = z.string({ error: 'expected a document URI' }).min(1, { error: 'expected a document URI' });

export const ExplainArgs = z.object({ uri, range, open: z.boolean({ error: 'expected true or false' }).optional() }, { error: 'expected an object' });

export const EditArgs = z.object(
  {
    uri,
    range,
    instruction: z.string({ error: 'expected the instruction as a string' }).refine((s) => s.trim() !== '', { error: 'expected an instruction, not an empty string' }),
    // Optional: zod 4 takes a refined z.unknown() in an object as required, which refused every edit without a scope.
    scope: z.enum(['file', 'workspace'], { error: (iss) => `scope must be "file" or "workspace", not ${JSON.stringify(iss.input)}` }).optional(),
  },
  { error: 'expected an object' },
);

export const CompareArgs = z.object(
  {
    uri,
    range,
    instruction: z.string({ error: 'instruction must be a string' }).optional(),
    backends: z
      .array(z.string({ error: 'expected a backend name' }), { error: 'backends must name two different backends' })
      .length(2, { error: 'backends must name two different backends' })
      .refine((b) => b[0] !== b[1], { error: 'backends must name two different backends' })
      .optional(),
  },
  { error: 'expected an object' },
);

const ACTION_IDS: [ActionId | 'edit', ...(ActionId | 'edit')[]] = ['edit', ...(Object.keys(ACTION_KINDS) as ActionId[])];

/** What an unresolved action carries to codeAction/resolve (and to tandem.applyAction). */
export const ActionDataShape = z.object(
  {
    id: z.enum(ACTION_IDS, { error: `expected one of: ${ACTION_IDS.join(', ')}` }),
    uri,
    version: z.number({ error: 'expected an integer' }).int({ error: 'expected an integer' }),
    start: natural,
    end: natural,
    diagnostic: z.object({ message: z.string({ error: 'expected a string' }) }, { error: 'expected {"message": ...}' }).optional(),
  },
  { error: 'expected action data {id, uri, version, start, end} as tandem listed it' },
);
export type ActionData = z.infer<typeof ActionDataShape>;

const minutes = `expected a number of minutes from 0 to ${MAX_SNOOZE_MINUTES}`;
/** `tandem.snooze [minutes]`: nothing, null or 0 resumes. */
export const SnoozeArgs = z.number({ error: minutes }).min(0, { error: minutes }).max(MAX_SNOOZE_MINUTES, { error: minutes }).nullish();

export const AcceptedArgs = z.object({ id: z.string({ error: 'expected the completion id' }), partial: z.boolean({ error: 'expected true or false' }).optional() }, { error: 'expected an object' });

/** `where` names the value for the message: `arguments[0]` of a command, `data` of an action, `params` of a request. */
function check<T>(schema: z.ZodType<T>, value: unknown, what: string, where: string, usage?: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const { at, message, got } = firstIssue(r.error, value, where);
  throw invalid(what, at, message, got, usage);
}

function firstIssue(error: z.ZodError, value: unknown, where: string): { at: string; message: string; got: unknown } {
  const issue = error.issues[0]!;
  const at = issue.path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : `${s}.${String(k)}`), where);
  return { at, message: issue.message, got: valueAt(value, issue.path) };
}

/** The -32602 answer: `<what>: <field path>: <what is wrong> (got <value>)[; <usage>]`. */
function invalid(what: string, at: string, message: string, got: unknown, usage?: string): ResponseError<void> {
  const shown = got === undefined ? 'nothing' : (JSON.stringify(got)?.slice(0, 60) ?? typeof got);
  return new ResponseError(ErrorCodes.InvalidParams, `${what}: ${at}: ${message} (got ${shown})${usage ? `; ${usage}` : ''}`);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** The first argument of a command, checked against its shape. */
export function commandArg<T>(command: string, args: unknown, schema: z.ZodType<T>, usage: string): T {
  if (args !== undefined && args !== null && !Array.isArray(args)) throw new ResponseError(ErrorCodes.InvalidParams, `${command}: arguments must be a list; ${usage}`);
  return check(schema, (args as unknown[] | undefined)?.[0], command, 'arguments[0]', usage);
}

/** A command that takes no arguments: none, or an empty list. */
export function noArgs(command: string, args: unknown): void {
  if (args === undefined || args === null || (Array.isArray(args) && args.length === 0)) return;
  throw new ResponseError(ErrorCodes.InvalidParams, `${command} takes no arguments (got ${JSON.stringify(args)?.slice(0, 60)})`);
}

/** An action's data, from codeAction/resolve (`what`) or tandem.applyAction. */
export function actionData(value: unknown, what: string, where: string): ActionData {
  return check(ActionDataShape, value, what, where, 'expected action data {id, uri, version, start, end} as tandem listed it');
}

// The parameters of every LSP message the server handles, checked at the edge (server.ts) before
// any handler reads them. Only what the server reads is checked; other fields pass untouched, and
// the handler gets the client's own object (zod would strip fields the server echoes back).

const isNatural = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPosition = (v: unknown): boolean => isObject(v) && isNatural(v.line) && isNatural(v.character);

/**
 * The params of the two messages a next edit follows on every pause in typing (didChange, then
 * copilotInlineEdit) as their shapes take them, by hand: what fits passes without zod (whose
 * generic walk, cold after the pause, took ~0.1 ms of the request's path); what does not is
 * checked by the shape, which names the field at fault. Never looser than the shape.
 */
function fitsDidChange(p: unknown): boolean {
  if (!isObject(p) || !isObject(p.textDocument) || !Array.isArray(p.contentChanges)) return false;
  const { uri: u, version: v } = p.textDocument;
  if (typeof u !== 'string' || u === '' || !(v === undefined || v === null || Number.isSafeInteger(v))) return false;
  for (const c of p.contentChanges) {
    if (!isObject(c) || typeof c.text !== 'string') return false;
    const r = c.range;
    if (r !== undefined && !(isObject(r) && isPosition(r.start) && isPosition(r.end))) return false;
  }
  return true;
}

function fitsInlineEdit(p: unknown): boolean {
  if (!isObject(p) || !isObject(p.textDocument) || !isPosition(p.position)) return false;
  const { uri: u, version: v } = p.textDocument;
  return typeof u === 'string' && u !== '' && Number.isSafeInteger(v);
}

/**
 * textDocument/inlineCompletion and textDocument/completion: written by hand, as inline
 * completion runs on every keystroke; a handful of typeof checks, no allocation when it fits.
 */
export function positionParams<P>(method: string, p: unknown, inline: boolean): P {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw invalid(method, 'params', 'expected {"textDocument": {"uri": ...}, "position": {"line": ..., "character": ...}}', p);
  const { textDocument: t, position: pos, context: c } = p as Record<string, unknown>;
  if (typeof t !== 'object' || t === null) throw invalid(method, 'params.textDocument', 'expected {"uri": ...}', t);
  const u = (t as { uri?: unknown }).uri;
  if (typeof u !== 'string' || u === '') throw invalid(method, 'params.textDocument.uri', 'expected a document URI', u);
  if (typeof pos !== 'object' || pos === null) throw invalid(method, 'params.position', 'expected a position {"line": ..., "character": ...}', pos);
  const { line, character } = pos as { line?: unknown; character?: unknown };
  if (!isNatural(line)) throw invalid(method, 'params.position.line', 'expected a non-negative integer', line);
  if (!isNatural(character)) throw invalid(method, 'params.position.character', 'expected a non-negative integer', character);
  if (inline && c !== undefined && c !== null) {
    if (typeof c !== 'object' || c === null) throw invalid(method, 'params.context', 'expected {"triggerKind": 1 | 2}', c);
    const k = (c as { triggerKind?: unknown }).triggerKind;
    if (k !== 1 && k !== 2) throw invalid(method, 'params.context.triggerKind', 'expected 1 (invoked) or 2 (automatic)', k);
    const sel = (c as { selectedCompletionInfo?: unknown }).selectedCompletionInfo;
    if (sel !== undefined && sel !== null) {
      const at = 'params.context.selectedCompletionInfo';
      if (typeof sel !== 'object') throw invalid(method, at, 'expected {"range": ..., "text": ...}', sel);
      const { range: r, text } = sel as { range?: unknown; text?: unknown };
      if (typeof r !== 'object' || r === null) throw invalid(method, `${at}.range`, 'expected a range {"start": ..., "end": ...}', r);
      for (const end of ['start', 'end'] as const) {
        const q = (r as Record<string, unknown>)[end];
        if (typeof q !== 'object' || q === null) throw invalid(method, `${at}.range.${end}`, 'expected a position {"line": ..., "character": ...}', q);
        const { line: l, character: ch } = q as { line?: unknown; character?: unknown };
        if (!isNatural(l)) throw invalid(method, `${at}.range.${end}.line`, 'expected a non-negative integer', l);
        if (!isNatural(ch)) throw invalid(method, `${at}.range.${end}.character`, 'expected a non-negative integer', ch);
      }
      if (typeof text !== 'string') throw invalid(method, `${at}.text`, 'expected the selected item\'s text as a string', text);
    }
  }
  return p as P;
}

const textDocument = z.object({ uri }, { error: 'expected {"uri": ...}' });
const message = z.union([z.string(), z.object({ value: z.string() })], { error: 'expected the message as a string' });
const diagnostic = z.object({ range, message, source: z.string({ error: 'expected a string' }).nullish() }, { error: 'expected a diagnostic {"range": ..., "message": ...}' });

export const CodeActionParamsShape = z.object(
  {
    textDocument,
    range,
    context: z
      .object(
        {
          diagnostics: z.array(diagnostic, { error: 'expected a list of diagnostics' }).nullish(),
          only: z.array(z.string({ error: 'expected a code action kind' }), { error: 'expected a list of code action kinds' }).nullish(),
        },
        { error: 'expected {"diagnostics": [...], "only"?: [...]}' },
      )
      .nullish(),
  },
  { error: 'expected {"textDocument": ..., "range": ..., "context": ...}' },
);

/** codeAction/resolve: an object; its `data` is checked by actionData, as tandem.applyAction's is. */
export const CodeActionShape = z.object({ title: z.string({ error: 'expected a string' }).optional() }, { error: 'expected a code action as textDocument/codeAction listed it' });

export const ExecuteCommandParamsShape = z.object({ command: z.string({ error: 'expected a command name' }) }, { error: 'expected {"command": ..., "arguments": [...]}' });

const version = z.number({ error: 'expected an integer' }).int({ error: 'expected an integer' });
const string = z.string({ error: 'expected a string' });

export const DidOpenShape = z.object({ textDocument: z.object({ uri, languageId: string, version, text: string }, { error: 'expected {"uri", "languageId", "version", "text"}' }) }, { error: 'expected {"textDocument": ...}' });
export const DidChangeShape = z.object(
  {
    textDocument: z.object({ uri, version: version.nullish() }, { error: 'expected {"uri", "version"}' }),
    contentChanges: z.array(z.object({ text: string, range: range.optional() }, { error: 'expected {"text": ..., "range"?: ...}' }), { error: 'expected a list of changes' }),
  },
  { error: 'expected {"textDocument": ..., "contentChanges": [...]}' },
);
export const DocumentOnlyShape = z.object({ textDocument }, { error: 'expected {"textDocument": {"uri": ...}}' });
export const WatchedFilesShape = z.object(
  { changes: z.array(z.object({ uri, type: z.number({ error: 'expected 1, 2 or 3' }).int({ error: 'expected 1, 2 or 3' }).min(1, { error: 'expected 1, 2 or 3' }).max(3, { error: 'expected 1, 2 or 3' }) }, { error: 'expected {"uri", "type"}' }), { error: 'expected a list of changes' }) },
  { error: 'expected {"changes": [...]}' },
);
export const ConfigurationShape = z.object({}, { error: 'expected {"settings": ...}' });
/** `$/cancelRequest`: the library reads `params.id` itself, unchecked, so the stdin reader checks it first. */
export const CancelShape = z.object({ id: z.union([z.number(), z.string()], { error: 'expected a request id (a number or a string)' }) }, { error: 'expected {"id": ...}' });
const folders = z.array(z.object({ uri }, { error: 'expected {"uri", "name"}' }), { error: 'expected a list of folders' });
export const WorkspaceFoldersShape = z.object({ event: z.object({ added: folders, removed: folders }, { error: 'expected {"added": [...], "removed": [...]}' }) }, { error: 'expected {"event": ...}' });

/** A request's params against its method's shape: -32602 naming the field. The client's own object comes back. */
export function requestParams<P>(method: string, schema: z.ZodType, p: unknown): P {
  if (schema === CopilotInlineEditShape && fitsInlineEdit(p)) return p as P;
  check(schema, p, method, 'params');
  return p as P;
}

/**
 * A notification's params against its shape: `<method>: <field path>: <what is wrong>`, or
 * undefined when they fit. Without the value: it goes to the log, and may be a file's code.
 */
export function notificationProblem(method: string, schema: z.ZodType, p: unknown): string | undefined {
  if (schema === DidChangeShape && fitsDidChange(p)) return undefined;
  const r = schema.safeParse(p);
  if (r.success) return undefined;
  const { at, message } = firstIssue(r.error, p, 'params');
  return `${method}: ${at}: ${message}`;
}

// --- Chat (tandem/chat, tandem/chatModels, tandem/countTokens) ---------------------------------

const progressToken = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string' || Number.isSafeInteger(v);

/**
 * tandem/chat's params: the chat request's own check (pipeline/chat.ts, shared with `serve`), its
 * field named under `params`, plus the progress tokens LSP adds.
 */
export function chatParams(method: string, p: unknown): { request: ChatTaskRequest; partialResultToken?: string | number } {
  const r = parseChatRequest(p, 'lsp');
  if (!r.ok) {
    const field = r.failure.param ?? 'params';
    throw new ResponseError(ErrorCodes.InvalidParams, `${method}: ${field === 'params' ? '' : 'params.'}${r.failure.message}`);
  }
  const { partialResultToken, workDoneToken } = p as { partialResultToken?: unknown; workDoneToken?: unknown };
  if (!progressToken(partialResultToken)) throw invalid(method, 'params.partialResultToken', 'expected a progress token (a string or an integer)', partialResultToken);
  if (!progressToken(workDoneToken)) throw invalid(method, 'params.workDoneToken', 'expected a progress token (a string or an integer)', workDoneToken);
  return { request: r.value, ...(partialResultToken !== undefined && partialResultToken !== null ? { partialResultToken: partialResultToken as string | number } : {}) };
}

/** tandem/chatModels: nothing, or an empty object. */
export const ChatModelsShape = z.object({}, { error: 'expected {} or nothing' }).nullish();

export const CountTokensShape = z.object(
  {
    model: z.string({ error: 'expected "tandem/auto" or "tandem/<backend>"' }).min(1, { error: 'expected "tandem/auto" or "tandem/<backend>"' }),
    text: z.string({ error: 'expected the text as a string' }),
  },
  { error: 'expected {"model": ..., "text": ...}' },
);

// --- Next edits (textDocument/copilotInlineEdit, textDocument/didShowInlineEdit) ---------------

/** Copilot's request: `{textDocument: {uri, version}, position}`. */
export const CopilotInlineEditShape = z.object(
  { textDocument: z.object({ uri, version: z.number({ error: 'expected the document version' }).int({ error: 'expected the document version' }) }, { error: 'expected {"uri": ..., "version": ...}' }), position },
  { error: 'expected {"textDocument": {"uri", "version"}, "position": ...}' },
);
/** `{item: {command?: {arguments: [{id}]}}}`: the suggestion shown, named by its accept command's argument. */
export const DidShowInlineEditShape = z.object({ item: z.object({}, { error: 'expected the edit item shown' }) }, { error: 'expected {"item": ...}' });
export const NextEditAcceptedArgs = z.object({ id: z.string({ error: 'expected the suggestion id' }) }, { error: 'expected an object' });
