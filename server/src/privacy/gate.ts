// The privacy gate: the one place every request passes before a byte leaves for a backend.
import type { ChatRequest, ChatResult, CompletionBackend, FimRequest, FimResult, ModelInfo, Outcome, SourceRef, BackendFailure } from '../models/types.js';
import { estimateTokens } from '../prompt/tokens.js';
import { sha256, type AuditLog } from './audit.js';
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
  readonly chat?: (req: ChatRequest, signal: AbortSignal) => Promise<Outcome<ChatResult>>;
  readonly probe?: (signal: AbortSignal) => Promise<Outcome<{ latencyMs: number }>>;
  private readonly now: () => number;
  private readonly paths: PathPolicy;

  constructor(readonly inner: CompletionBackend, private readonly deps: GateDeps) {
    this.paths = deps.paths ?? new PathPolicy({ roots: () => [] });
    this.name = inner.name;
    this.url = inner.url;
    this.location = inner.location;
    this.now = deps.now ?? (() => performance.now());
    if (inner.chat) this.chat = (req, signal) => this.guardedChat(req, signal);
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
    if (this.location === 'cloud' && req.parts && secretAtCursor(req.parts.prefix, req.parts.suffix, req.sources?.[0]?.path)) {
      return denied(`the cursor is inside a secret (or its assignment): the halves around it are not sent to cloud backend "${this.name}"`);
    }
    if (this.location === 'cloud') {
      const r = redactAll(req.prompt, req.sources ?? []);
      redactions = r.count;
      sent = { ...req, prompt: r.text };
      if (req.parts) {
        const prefix = redactAll(req.parts.prefix, req.sources ?? []);
        const suffix = redactAll(req.parts.suffix, req.sources ?? []);
        const snippets = req.parts.snippets.map((s) => ({ path: s.path, text: redact(s.text, s.path).text }));
        sent = { ...sent, parts: { prefix: prefix.text, suffix: suffix.text, snippets } };
      }
    }
    const start = this.now();
    const o = await this.inner.complete(sent, signal);
    this.record(req.task ?? 'inline', req.sources, estimateTokens(sent.prompt), o.ok ? estimateTokens(o.value.text) : 0, o.ok ? o.value.model : null, redactions, start, o.ok ? undefined : o.failure);
    return o;
  }

  private async guardedChat(req: ChatRequest, signal: AbortSignal): Promise<Outcome<ChatResult>> {
    const no = this.sourceDenial(req.sources);
    if (no) return no;
    let sent = req;
    let redactions = 0;
    if (this.location === 'cloud') {
      const messages = req.messages.map((m) => {
        const r = redactAll(m.content, req.sources ?? []);
        redactions += r.count;
        return { ...m, content: r.text };
      });
      sent = { ...req, messages };
    }
    const start = this.now();
    const o = await this.inner.chat!(sent, signal);
    const tokensIn = o.ok && o.value.usage ? o.value.usage.promptTokens : estimateTokens(sent.messages.map((m) => m.content).join('\n'));
    const tokensOut = o.ok ? (o.value.usage?.completionTokens ?? estimateTokens(o.value.text)) : 0;
    this.record(req.task ?? 'action', req.sources, tokensIn, tokensOut, o.ok ? o.value.model : null, redactions, start, o.ok ? undefined : o.failure);
    return o;
  }

  private record(task: string, sources: SourceRef[] | undefined, tokensIn: number, tokensOut: number, model: string | null, redactions: number, start: number, failure: BackendFailure | undefined): void {
    if (!failure) this.deps.onUsage?.(tokensIn, tokensOut);
    const audit = this.deps.audit;
    if (!audit) return;
    const latencyMs = Math.round(this.now() - start);
    const outcome = failure ? failure.kind : 'ok';
    // Hashing waits until the answer is out: it is not on the keystroke's path.
    setImmediate(() => {
      void audit.write({
        time: new Date().toISOString(),
        task,
        backend: this.name,
        location: this.location,
        model,
        tokensIn,
        tokensOut,
        sources: (sources ?? []).map((s) => ({ path: s.path, sha256: sha256(s.text) })),
        redactions,
        latencyMs,
        outcome,
      });
    });
  }
}

function denied(message: string): Outcome<never> {
  return { ok: false, failure: { kind: 'denied', message } };
}

/** Redacts `text`; regions that come from .env files get every value replaced too. */
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

function redactAll(text: string, sources: SourceRef[]): { text: string; count: number } {
  let out = text;
  let count = 0;
  for (const s of sources) {
    if (!isEnvFile(s.path) || !s.text || !out.includes(s.text)) continue;
    const r = redact(s.text, s.path);
    if (r.count) {
      out = out.split(s.text).join(r.text);
      count += r.count;
    }
  }
  const r = redact(out);
  return { text: r.text, count: count + r.count };
}
