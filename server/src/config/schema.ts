// The one schema of tandem's settings: every field with its comment, its default and its check.
// The JSON Schema for editors (server/tandem.schema.json) is generated from this file.
import { z } from 'zod';

export const BACKEND_KINDS = ['vllm', 'openai', 'tgi', 'ollama', 'llamacpp'] as const;
export const FIM_TEMPLATES = ['qwen', 'deepseek', 'starcoder', 'codellama', 'codestral'] as const;
export const TASK_CLASSES = ['inline', 'action', 'multiFile', 'chat', 'nextEdit'] as const;
/** Prompt formats of next-edit models (nextEdit/formats.ts). */
export const NEXT_EDIT_FORMATS = ['zeta', 'sweep', 'instruct'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];
export type FimTemplateName = (typeof FIM_TEMPLATES)[number];
export type TaskClass = (typeof TASK_CLASSES)[number];
export type NextEditFormatName = (typeof NEXT_EDIT_FORMATS)[number];

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

const url = z.string({ error: 'expected a URL' }).refine(isHttpUrl, { error: 'expected a URL' });
const positiveInt = z.number({ error: 'expected a number' }).int({ error: 'expected a whole number' }).positive({ error: 'expected a number above 0' });

export const BackendSchema = z
  .object({
    kind: z.enum(BACKEND_KINDS, { error: `expected one of: ${BACKEND_KINDS.join(', ')}` }).describe('Wire protocol of the server: vllm, openai (any OpenAI-compatible API), tgi, ollama or llamacpp.'),
    url: url.describe('Base URL of the server, e.g. http://gpu-pool:8000 (for vllm, /v1 is appended) or https://api.openai.com/v1.'),
    location: z
      .enum(['onprem', 'cloud'], { error: 'expected "onprem" or "cloud"' })
      .optional()
      .describe('Where the server runs. Only cloud backends are subject to privacy rules. Default: cloud for kind openai, onprem otherwise.'),
    model: z.string().min(1, { error: 'expected a model name' }).optional().describe('Model id to request; optional where the server names its model (/v1/models).'),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected the name of an environment variable (the key itself never goes in a config file)' })
      .optional()
      .describe('Name of the environment variable holding the API key; an Authorization header is sent only to backends that have one.'),
    headers: z.record(z.string(), z.string({ error: 'expected a string' })).optional().describe('Extra HTTP headers sent with every request to this backend.'),
    timeoutMs: positiveInt.optional().describe('Longest silence, in milliseconds, before this backend\'s answer begins (its first token) and between two streamed pieces of it, for every task (default 60000); past it the request fails with a timeout, which opens the backend\'s breaker, and fails over to the route\'s next backend. An inline request also ends at inline.deadlineMs.'),
    hedgeMs: z
      .union([z.number().int().nonnegative(), z.literal('adaptive'), z.literal('off')], { error: 'expected a number of milliseconds, "adaptive" or "off"' })
      .optional()
      .describe(
        'Inline requests: when this backend has sent no token for this long (before its first or between two), the route\'s next backend that privacy, health and budget allow is asked too; the first usable answer is shown and the other request is closed. "adaptive" (default): this backend\'s p95 time to first token over its last 100 inline requests, within 100-500 ms (300 ms until 5 are known), at most half of inline.deadlineMs; a number: that many milliseconds (0: ask both at once); "off": never.',
      ),
    maxContextTokens: positiveInt.optional().describe('Context window of the model in tokens, where the server does not report it (else discovered from /v1/models max_model_len).'),
    fim: z.enum(FIM_TEMPLATES, { error: `expected one of: ${FIM_TEMPLATES.join(', ')}` }).optional().describe('Fill-in-the-middle template; else chosen from the model name.'),
    keepAlive: z
      .union([z.string().regex(/^-?\d+(\.\d+)?(ms|s|m|h)?$/), z.number().int()], { error: 'expected a duration such as "30m", "24h", "-1" (forever) or a number of seconds' })
      .optional()
      .describe('Ollama only: keep_alive sent with each request (how long the model stays loaded after it, e.g. "30m"; -1: for ever). Unset, none is sent and the server\'s OLLAMA_KEEP_ALIVE applies (Ollama\'s default: 5m).'),
    nextEdit: z
      .enum(NEXT_EDIT_FORMATS, { error: `expected one of: ${NEXT_EDIT_FORMATS.join(', ')}` })
      .optional()
      .describe('Next-edit prompt format of this backend\'s model: zeta (Zed\'s Zeta), sweep (Sweep\'s next-edit models) or instruct (any chat model); else chosen from the model name (zeta, sweep/next-edit, else instruct).'),
    caFile: z.string().min(1).optional().describe('PEM file of extra certificate authorities to trust for this backend.'),
    proxy: url.optional().describe('HTTP(S) proxy URL for this backend.'),
    pricePerMTokIn: z.number().nonnegative().optional().describe('Price in USD per million prompt tokens, for the cost report.'),
    pricePerMTokOut: z.number().nonnegative().optional().describe('Price in USD per million completion tokens, for the cost report.'),
  })
  .strict();

function source(budgetMs: number) {
  return z
    .object({
      enabled: z.boolean({ error: 'expected true or false' }).default(true).describe('Run this source.'),
      budgetMs: z.number({ error: 'expected a number' }).positive({ error: 'expected a number above 0' }).max(1000).default(budgetMs).describe('Time budget of this source per request, in milliseconds: it stops there, and what it found by then is used.'),
    })
    .strict()
    .default({ enabled: true, budgetMs });
}

const routeList = z
  .array(z.string({ error: 'expected a backend name' }), { error: 'expected a list of backend names' })
  .min(1, { error: 'expected at least one backend name' });

export const ConfigSchema = z
  .object({
    backends: z
      .record(z.string(), BackendSchema, { error: 'expected an object of named backends' })
      .optional()
      .describe('Named model servers. Default: one vLLM at http://localhost:8000, on-prem, serving every route.'),
    routes: z
      .object({
        inline: routeList.optional().describe('Backends for ghost-text completions, first healthy and allowed one serves.'),
        action: routeList.optional().describe('Backends for code actions and explain on one file.'),
        multiFile: routeList.optional().describe('Backends for tasks whose context or edits span files.'),
        chat: routeList.optional().describe('Backends for chat (the tandem/chat LSP request and `tandem-lsp serve`); `tandem/auto` picks the first allowed one. Default: the action route\'s list.'),
        nextEdit: routeList.optional().describe('Backends for next-edit suggestions (the edit the user will make next, anywhere near the cursor). Default: the on-prem backends of the inline route\'s list.'),
      })
      .strict()
      .optional()
      .describe('Task class to an ordered list of backend names; the next one is the fallback. Default: every backend, on-prem first.'),
    privacy: z
      .object({
        airGapped: z.boolean({ error: 'expected true or false' }).default(false).describe('When true, no cloud backend is ever contacted, for any task.'),
        onPremOnly: z
          .array(z.string({ error: 'expected a glob' }), { error: 'expected a list of globs' })
          .default([])
          .describe('Globs relative to the workspace root; a prompt holding text from a matching file never goes to a cloud backend. Matched on the real path (symbolic links followed), relative to every workspace folder holding it and to the directories above that folder, case-insensitively on case-insensitive file systems.'),
        allowOutsideWorkspace: z
          .boolean({ error: 'expected true or false' })
          .default(false)
          .describe('When true, text from files outside every workspace folder (and from every file of a session with no folder open, or from an unsaved buffer) may go to a cloud backend. Default false: such text is served by on-prem backends only. A user-level setting: a repository cannot turn it on.'),
        initializationOptions: z
          .enum(['user', 'repository'], { error: 'expected "user" or "repository"' })
          .default('user')
          .describe(
            'How far the editor\'s initializationOptions are trusted. "repository" for editors whose project files can set them (Zed\'s .zed/settings.json, Helix\'s .helix/languages.toml): they may then only tighten, like a repository\'s settings. Read from the user file and --config/TANDEM_CONFIG.',
          ),
      })
      .strict()
      .default({ airGapped: false, onPremOnly: [], allowOutsideWorkspace: false, initializationOptions: 'user' })
      .describe('What code may leave the building.'),
    inline: z
      .object({
        enabled: z.boolean({ error: 'expected true or false' }).default(true).describe('Serve inline (ghost-text) completions, and the textDocument/completion fallback.'),
        debounceMs: z
          .union([z.number().int().nonnegative(), z.literal('adaptive')], { error: 'expected a number of milliseconds or "adaptive"' })
          .default('adaptive')
          .describe('Wait before calling the model: a fixed number of milliseconds, or "adaptive" (none after a pause, longer while typing fast).'),
        deadlineMs: positiveInt.default(2000).describe('An inline request answers (possibly empty) within this many milliseconds.'),
        maxTokens: positiveInt.default(128).describe('Most tokens the model may generate for one completion.'),
        temperature: z.number().min(0).max(2).default(0.1).describe('Sampling temperature; low keeps completions predictable.'),
        maxPromptTokens: positiveInt.default(4096).describe('Upper bound of the prompt, below the model context window, to keep latency low.'),
        multiline: z.boolean().default(true).describe('Allow completions of several lines when the cursor is at the end of a line.'),
        maxLines: positiveInt.default(16).describe('Most lines in one multi-line completion.'),
        cacheSize: positiveInt.default(512).describe('Entries of the completion cache.'),
        speculative: z
          .boolean({ error: 'expected true or false' })
          .default(true)
          .describe('When a completion is accepted, ask for the one that follows it in the background (an inline request like any other: same route, privacy and budget), so that the next ghost text is ready; cancelled when the user types something else.'),
        alternatives: positiveInt
          .max(10, { error: 'expected at most 10' })
          .default(3)
          .describe(
            'Candidates asked for when the user asks explicitly (an inline request with triggerKind Invoked, e.g. VS Code\'s Trigger Inline Suggestion or next/previous; textDocument/completion): distinct after postprocessing, best first, one item each. vLLM and OpenAI-compatible backends generate them in one request (`n`, at temperature 0.4 or inline.temperature if higher, ranked by their tokens\' log probabilities); TGI, Ollama and llama.cpp get that many requests at once (the first at inline.temperature). Automatic requests (typing) ask for one. 1: explicit requests ask for one too.',
          ),
        nextEdits: z
          .boolean({ error: 'expected true or false' })
          .default(false)
          .describe(
            'Next-edit suggestions in editors without Copilot\'s textDocument/copilotInlineEdit: where ghost text has nothing at the cursor, the edit the user will make next is answered as an LSP 3.18 inline completion item whose range is the text it replaces (on one line), and VS Code\'s extension shows next edits with Tab to apply and Escape to dismiss. Default false: each pause then asks the next-edit route\'s model too, and an editor that shows an item\'s text at the cursor whatever its range would mislead. Clients that send textDocument/copilotInlineEdit get edits whatever this says.',
          ),
        languages: z
          .record(z.string(), z.boolean({ error: 'expected true or false' }), { error: 'expected an object of LSP language ids to true or false, e.g. {"markdown": false, "*": true}' })
          .optional()
          .describe(
            'Inline completions per LSP language id (as the editor names the document\'s language: "typescript", "python", "markdown", "plaintext", ...): true or false, "*" for every language not named. Default: on for every language. A workspace\'s tandem.json may only switch languages off.',
          ),
      })
      .strict()
      .default(() => ({ enabled: true, debounceMs: 'adaptive' as const, deadlineMs: 2000, maxTokens: 128, temperature: 0.1, maxPromptTokens: 4096, multiline: true, maxLines: 16, cacheSize: 512, speculative: true, alternatives: 3, nextEdits: false }))
      .describe('Inline completions.'),
    context: z
      .object({
        enabled: z.boolean({ error: 'expected true or false' }).default(true).describe('Add cross-file context (definitions, types in scope, similar code, recent edits) from a background workspace index to inline prompts.'),
        maxTokens: z.number({ error: 'expected a number' }).int({ error: 'expected a whole number' }).nonnegative({ error: 'expected a number of 0 or more' }).default(2048).describe('Most tokens of cross-file context in one inline prompt; 0 leaves the prompt to the current file.'),
        share: z.number({ error: 'expected a number' }).min(0).max(0.9).default(0.5).describe('Largest share of the prompt budget context may take; prefix and suffix share the rest 3:1, and context it does not use goes back to them.'),
        maxFileBytes: positiveInt.default(262144).describe('Files larger than this many bytes are not indexed (generated code, bundles).'),
        maxFiles: positiveInt.default(20000).describe('Most files indexed per workspace.'),
        maxWorkspaceBytes: positiveInt.default(268435456).describe('Most bytes of source indexed per workspace.'),
        exclude: z.array(z.string({ error: 'expected a glob' }), { error: 'expected a list of globs' }).default([]).describe('Globs relative to the workspace root that are never indexed, besides what .gitignore excludes.'),
        sources: z
          .object({
            definitions: source(10).describe('Definitions of the identifiers around the cursor, resolved through the imports first, then by name.'),
            enclosing: source(5).describe('Members of the enclosing class or type and definitions of the types of parameters and fields in scope.'),
            similar: source(6).describe('The most similar lines in other open and recently edited documents (Jaccard similarity of sliding windows).'),
            recentEdits: source(3).describe('The regions edited most recently, in any open document.'),
          })
          .strict()
          .default(() => ({ definitions: { enabled: true, budgetMs: 10 }, enclosing: { enabled: true, budgetMs: 5 }, similar: { enabled: true, budgetMs: 6 }, recentEdits: { enabled: true, budgetMs: 3 } }))
          .describe('The context sources, run in this order, each within its own time budget and all within the sum of them.'),
      })
      .strict()
      .default(() => ({
        enabled: true,
        maxTokens: 2048,
        share: 0.5,
        maxFileBytes: 262144,
        maxFiles: 20000,
        maxWorkspaceBytes: 268435456,
        exclude: [],
        sources: { definitions: { enabled: true, budgetMs: 10 }, enclosing: { enabled: true, budgetMs: 5 }, similar: { enabled: true, budgetMs: 6 }, recentEdits: { enabled: true, budgetMs: 3 } },
      }))
      .describe('Cross-file context for inline completions.'),
    budget: z
      .object({
        dailyUsd: z.number({ error: 'expected a number of US dollars' }).nonnegative({ error: 'expected 0 or more' }).optional().describe('Daily cap of cloud spend (tokens x pricePerMTok*); once reached, cloud routes fall back to on-prem backends. No cap when unset.'),
      })
      .strict()
      .default({})
      .describe('Cloud cost control.'),
    audit: z
      .object({
        enabled: z.boolean({ error: 'expected true or false' }).default(true).describe('Write one JSON line per model request: time, task, backend, location, model, tokens, source paths with content hashes, redactions, latency, outcome (never code).'),
        path: z.string().min(1).optional().describe('Audit log file. Default: $XDG_STATE_HOME/tandem/audit.jsonl (else ~/.local/state/tandem/audit.jsonl).'),
        maxBytes: positiveInt.default(10_000_000).describe('Rotate the audit log when it would grow past this many bytes.'),
        keep: positiveInt.default(5).describe('Rotated audit files kept (audit.jsonl.1 ... .N).'),
      })
      .strict()
      .default({ enabled: true, maxBytes: 10_000_000, keep: 5 })
      .describe('Audit trail of what left for which backend.'),
    log: z
      .object({
        level: z.enum(['error', 'warn', 'info', 'debug', 'trace'], { error: 'expected one of: error, warn, info, debug, trace' }).default('info').describe('Least severe level written to stderr and window/logMessage; prompts appear only at trace.'),
      })
      .strict()
      .default({ level: 'info' })
      .describe('Logging.'),
  })
  .strict();

export type BackendConfig = z.infer<typeof BackendSchema>;
export type RawConfig = z.infer<typeof ConfigSchema>;

/** A backend after defaults: location is always known. */
export type Backend = BackendConfig & { name: string; location: 'onprem' | 'cloud' };

/** The configuration in force: every default applied, every cross-reference checked. */
export interface Config {
  backends: Record<string, Backend>;
  routes: Record<TaskClass, string[]>;
  privacy: RawConfig['privacy'];
  inline: RawConfig['inline'];
  context: RawConfig['context'];
  budget: RawConfig['budget'];
  audit: RawConfig['audit'];
  log: RawConfig['log'];
}

/** `inline.languages`: the language's own entry, else `"*"`, else on. Own keys only: "constructor" is a language id like any other. */
export function languageEnabled(languages: Readonly<Record<string, boolean>> | undefined, languageId: string): boolean {
  if (!languages) return true;
  if (Object.hasOwn(languages, languageId)) return languages[languageId] !== false;
  return !Object.hasOwn(languages, '*') || languages['*'] !== false;
}

export function jsonSchema(): unknown {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input' }) as Record<string, unknown>;
  return { ...schema, title: 'tandem settings' };
}
