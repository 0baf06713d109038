// The privacy gate: the one place every request passes before a byte leaves for a backend.
import type { ChatRequest, ChatResult, CompletionBackend, FimRequest, FimResult, ModelInfo, Outcome, SourceRef } from '../models/types.js';
import { estimateTokens } from '../prompt/tokens.js';
import { sha256, type AuditLog, type AuditRecord, type AuditSource } from './audit.js';
import { PathPolicy } from './paths.js';
import { isEnvFile, redact } from './redact.js';

export interface PrivacyPolicy {
  airGapped: boolean;
  onPremOnly: string[];
  allowOutsideWorkspace?: boolean;
}

export interface GateDeps {
  policy: () => PrivacyPolicy;
  /** Where each source file really is (real path, workspace folders); without it, paths are matched as written. */
  paths?: PathPolicy;
  audit?: AuditLog;
  /** Tokens a request used, for the spend ledger. */
  onUsage?: (tokensIn: number, tokensOut: number) => void;
  now?: () => number;
}

/**
 * Wraps a backend. For a cloud backend it refuses everything when air-gapped (model discovery
 * and probes included, so no connection is ever opened), refuses requests that hold text from
 * an `onPremOnly` file or from outside the workspace folders (see PathPolicy) or do not say which
 * files they hold (fail closed), and redacts secrets from what it does send. For every backend it
 * writes the audit record.
 */
export class PrivacyGate implements CompletionBackend {
  readonly name: string;
  readonly url: string;
  readonly location: 'onprem' | 'cloud';
  readonly choices?: boolean;
  readonly chat?: (req: ChatRequest, signal: AbortSignal) => Promise<Outcome<ChatResult>>;
  readonly probe?: (signal: AbortSignal) => Promise<Outcome<{ latencyMs: number }>>;
  readonly countTokens?: (text: string, signal: AbortSignal) => Promise<Outcome<number>>;
  private readonly now: () => number;
  private readonly paths: PathPolicy;
  /** The name whose .env-ness counts: a link `cfg.txt -> .env` is redacted as the .env file it really is. */
  private readonly envName = (path: string): string => {
    if (isEnvFile(path)) return path;
    const real = this.paths.realPath(path);
    return real !== undefined && isEnvFile(real) ? real : path;
  };

  constructor(readonly inner: CompletionBackend, private readonly deps: GateDeps) {
    this.paths = deps.paths ?? new PathPolicy({ roots: () => [] });
    this.name = inner.name;
    this.url = inner.url;
    this.location = inner.location;
    this.choices = inner.choices;
    this.now = deps.now ?? (() => performance.now());
    if (inner.chat) this.chat = (req, signal) => this.guardedChat(req, signal);
    if (inner.countTokens) {
      const count = inner.countTokens.bind(inner);
      // Counting sends the text: only to an on-prem backend (a cloud one is never asked; the
      // caller estimates instead), and audited as any request is.
      this.countTokens = async (text, signal) => {
        if (this.location === 'cloud') return denied(`token counting sends text: cloud backend "${this.name}" is not asked (the estimate is used)`);
        const done = this.begin('countTokens', [], () => 0, 0, false);
        const o = await count(text, signal).catch(thrown(done));
        done(o.ok ? o.value : 0, 0, null, o.ok ? 'ok' : o.failure.kind);
        return o;
      };
    }
    if (inner.probe) {
      const probe = inner.probe.bind(inner);
      this.probe = (signal) => this.airGapDenial() ?? probe(signal);
    }
  }

  private airGapDenial(): Promise<Outcome<never>> | undefined {
    if (this.location === 'cloud' && this.deps.policy().airGapped) {
      return Promise.resolve(denied(`backend "${this.name}" is a cloud backend and privacy.airGapped is on: nothing was sent`));
    }
    return undefined;
  }

  private sourceDenial(sources: SourceRef[] | undefined): Promise<Outcome<never>> | undefined {
    if (this.location !== 'cloud') return undefined;
    const air = this.airGapDenial();
    if (air) return air;
    if (!sources) return Promise.resolve(denied(`request to cloud backend "${this.name}" does not declare the files it holds; refused`));
    const hit = this.paths.cloudRefusal(sources.map((s) => s.path), this.deps.policy());
    if (hit) return Promise.resolve(denied(`the prompt holds text from ${hit.path}${hit.why}: not sent to cloud backend "${this.name}"`));
    return undefined;
  }

  info(signal: AbortSignal): Promise<Outcome<ModelInfo>> {
    return this.airGapDenial() ?? this.inner.info(signal);
  }

  async complete(req: FimRequest, signal: AbortSignal): Promise<Outcome<FimResult>> {
    const no = this.sourceDenial(req.sources);
    if (no) return no;
    let sent = req;
    let redactions = 0;
    if (this.location === 'cloud' && req.parts && secretAtCursor(req.parts.prefix, req.parts.suffix, req.sources?.[0] && this.envName(req.sources[0].path))) {
      return denied(`the cursor is inside a secret (or its assignment): the halves around it are not sent to cloud backend "${this.name}"`);
    }
    if (this.location === 'cloud') {
      const r = redactAll(req.prompt, req.sources ?? [], this.envName);
      redactions = r.count;
      sent = { ...req, prompt: r.text };
      if (req.parts) {
        const prefix = redactAll(req.parts.prefix, req.sources ?? [], this.envName);
        const suffix = redactAll(req.parts.suffix, req.sources ?? [], this.envName);
        const snippets = req.parts.snippets.map((s) => ({ path: s.path, text: redact(s.text, this.envName(s.path)).text }));
        sent = { ...sent, parts: { prefix: prefix.text, suffix: suffix.text, snippets } };
      }
    }
    const tokensIn = estimateTokens(sent.prompt);
    const done = this.begin(req.task ?? 'inline', req.sources, () => tokensIn, redactions);
    const o = await this.inner.complete(sent, signal).catch(thrown(done));
    // Several choices are each paid for.
    const tokensOut = o.ok ? (o.value.choices ?? [o.value]).reduce((n, c) => n + estimateTokens(c.text), 0) : 0;
    done(tokensIn, tokensOut, o.ok ? o.value.model : null, o.ok ? 'ok' : o.failure.kind);
    return o;
  }

  private async guardedChat(req: ChatRequest, signal: AbortSignal): Promise<Outcome<ChatResult>> {
    const no = this.sourceDenial(req.sources);
    if (no) return no;
    let sent = req;
    let redactions = 0;
    if (this.location === 'cloud') {
      const clean = (text: string): string => {
        const r = redactAll(text, req.sources ?? [], this.envName);
        redactions += r.count;
        return r.text;
      };
      // Tool calls' arguments and tools' answers are text like any other: a secret in them is redacted too.
      const messages = req.messages.map((m) => ({
        ...m,
        content: m.content === null ? null : clean(m.content),
        ...(m.toolCalls ? { toolCalls: m.toolCalls.map((c) => ({ ...c, function: { ...c.function, arguments: clean(c.function.arguments) } })) } : {}),
      }));
      sent = { ...req, messages };
    }
    const estimateIn = () => estimateTokens(sent.messages.map((m) => (m.content ?? '') + (m.toolCalls ?? []).map((c) => c.function.arguments).join('')).join('\n'));
    const done = this.begin(req.task ?? 'action', req.sources, estimateIn, redactions, true, req.origin);
    const o = await this.inner.chat!(sent, signal).catch(thrown(done));
    const tokensIn = o.ok && o.value.usage ? o.value.usage.promptTokens : estimateIn();
    const tokensOut = o.ok ? (o.value.usage?.completionTokens ?? estimateTokens(o.value.text)) : 0;
    done(tokensIn, tokensOut, o.ok ? o.value.model : null, o.ok ? 'ok' : o.failure.kind);
    return o;
  }

  /**
   * Called as a request is handed to the backend; the function it returns records the outcome:
   * spend, then the audit line, both written to disk before the answer goes back to the caller
   * (and so before it leaves the process). Should the process end first, the audit log writes the
   * request as `interrupted` (see writeInFlight).
   */
  private begin(task: string, sources: SourceRef[] | undefined, tokensIn: () => number, redactions: number, billed = true, origin?: string): Done {
    const start = this.now();
    const audit = this.deps.audit;
    let hashes: AuditSource[] | undefined;
    const hashed = () => (hashes ??= (sources ?? []).map((s) => ({ path: s.path, sha256: sha256(s.text) })));
    // Hashed and the log file checked while the backend works (the request is on its way by then):
    // at the outcome only the record's one write() is left on the answer's path.
    if (audit)
      setImmediate(() => {
        hashed();
        audit.prepare();
      });
    const record = (tokensIn: number, tokensOut: number, model: string | null, outcome: string): AuditRecord => ({
      time: new Date().toISOString(),
      task,
      backend: this.name,
      location: this.location,
      model,
      tokensIn,
      tokensOut,
      sources: hashed(),
      redactions,
      latencyMs: Math.round(this.now() - start),
      outcome,
      ...(origin ? { origin } : {}),
    });
    const write = audit?.begin(() => record(tokensIn(), 0, null, 'interrupted'));
    return (tokensIn, tokensOut, model, outcome) => {
      if (outcome === 'ok' && billed) this.deps.onUsage?.(tokensIn, tokensOut);
      write?.(record(tokensIn, tokensOut, model, outcome));
    };
  }
}

/** Records a request's outcome: `ok` or the failure's kind. */
type Done = (tokensIn: number, tokensOut: number, model: string | null, outcome: string) => void;

/** Backends return failures as values; one that throws (a bug) is still recorded, as `error`. */
function thrown(done: Done): (err: unknown) => never {
  return (err) => {
    done(0, 0, null, 'error');
    throw err;
  };
}

function denied(message: string): Outcome<never> {
  return { ok: false, failure: { kind: 'denied', message } };
}

/**
 * True when the text around the cursor holds a secret that neither half shows whole
 * (`token = "ghp_ab|cd…"`, or `password = |"…"` with the name before the cursor and the value
 * after): redacted apart, each half would leak its piece. Such a request is refused rather than
 * cut up: a completion inside a secret is of no use anyway. `path` marks a .env file.
 */
export function secretAtCursor(prefix: string, suffix: string, path: string | undefined): boolean {
  const whole = redact(prefix + suffix, path);
  if (whole.count === 0) return false;
  return redact(prefix, path).text + redact(suffix, path).text !== whole.text;
}

/**
 * Redacts `text`; regions that come from .env files get every value replaced too. `envName`
 * gives the name a source's .env-ness is judged by (its real path's, for a link to a .env file).
 */
function redactAll(text: string, sources: SourceRef[], envName: (path: string) => string): { text: string; count: number } {
  let out = text;
  let count = 0;
  for (const s of sources) {
    const name = envName(s.path);
    if (!isEnvFile(name) || !s.text || !out.includes(s.text)) continue;
    const r = redact(s.text, name);
    if (r.count) {
      out = out.split(s.text).join(r.text);
      count += r.count;
    }
  }
  const r = redact(out);
  return { text: r.text, count: count + r.count };
}
