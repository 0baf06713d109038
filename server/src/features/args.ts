// The shapes of every command's arguments and of an action's data, checked before any of it is used: a wrong shape is -32602 naming the argument at fault.
import { ErrorCodes, ResponseError } from 'vscode-languageserver';
import { z } from 'zod';
import { ACTION_KINDS, type ActionId } from '../actions/list.js';

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
    scope: z.unknown().refine((v) => v === undefined || v === 'file' || v === 'workspace', { error: (iss) => `scope must be "file" or "workspace", not ${JSON.stringify(iss.input)}` }).transform((v) => v as 'file' | 'workspace' | undefined),
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

export const AcceptedArgs = z.object({ id: z.string({ error: 'expected the completion id' }), partial: z.boolean({ error: 'expected true or false' }).optional() }, { error: 'expected an object' });

/** `where` names the value for the message: `arguments[0]` of a command, `data` of an action. */
function check<T>(schema: z.ZodType<T>, value: unknown, what: string, where: string, usage: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const at = issue.path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : `${s}.${String(k)}`), where);
  const got = valueAt(value, issue.path);
  const shown = got === undefined ? 'nothing' : JSON.stringify(got)?.slice(0, 60) ?? typeof got;
  throw new ResponseError(ErrorCodes.InvalidParams, `${what}: ${at}: ${issue.message} (got ${shown}); ${usage}`);
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

/** An action's data, from codeAction/resolve or tandem.applyAction. */
export function actionData(value: unknown, where: string): ActionData {
  return check(ActionDataShape, value, 'action', where, 'expected action data {id, uri, version, start, end} as tandem listed it');
}
