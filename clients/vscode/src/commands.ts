// The arguments the extension sends to the server's commands and the Markdown it shows for their
// answers: plain functions without `vscode`, so test/clients/vscode.test.ts runs them.

/** A protocol location: the document's URI and an LSP range. */
export interface Target {
  uri: string;
  range: unknown;
}

/** `open: false`: the extension shows the answer beside the editor, so the server must not also open it. */
export function explainArgs(t: Target): unknown[] {
  return [{ ...t, open: false }];
}

export function editArgs(t: Target, instruction: string, scope: 'file' | 'workspace'): unknown[] {
  return [{ ...t, instruction, scope }];
}

/** No instruction: both backends explain; with one, each backend's proposed edit (nothing applied). */
export function compareArgs(t: Target, instruction?: string): unknown[] {
  return [{ ...t, ...(instruction && instruction.trim() !== '' ? { instruction } : {}) }];
}

/** A code action whose only content is a command (Explain): nothing to resolve on the server. */
export function isCommandOnly(action: { command?: unknown; edit?: unknown }, command: string): boolean {
  return !action.edit && typeof action.command === 'object' && action.command !== null && (action.command as { command?: unknown }).command === command;
}

export function markdownOf(result: unknown): string | undefined {
  if (result && typeof result === 'object' && typeof (result as { markdown?: unknown }).markdown === 'string') return (result as { markdown: string }).markdown;
  return undefined;
}

interface Stats {
  requests?: number;
  shown?: number;
  cacheHits?: number;
  accepted?: number;
  partiallyAccepted?: number;
  byBackend?: Record<string, { shown?: number; accepted?: number; partiallyAccepted?: number }>;
  latency?: Record<string, { p50?: number; p95?: number }>;
  spend?: { day?: string; usd?: number };
  status?: { state?: string; message?: string };
  nextEdit?: { requests?: number; suggested?: Record<string, number>; shown?: Record<string, number>; accepted?: Record<string, number>; dismissed?: Record<string, number> };
}

/** `tandem.stats`' answer as Markdown: totals, a row per backend, next edits (a row per model), spend and status. */
export function statsMarkdown(result: unknown): string {
  const s = (result ?? {}) as Stats;
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  const lines = [
    '# tandem stats',
    '',
    `requests ${n(s.requests)}, shown ${n(s.shown)} (from cache ${n(s.cacheHits)}), accepted ${n(s.accepted)}, partly accepted ${n(s.partiallyAccepted)}`,
    '',
    '| backend | shown | accepted | partly | p50 ms | p95 ms |',
    '|---|---|---|---|---|---|',
  ];
  const names = [...new Set([...Object.keys(s.byBackend ?? {}), ...Object.keys(s.latency ?? {})])].sort();
  for (const name of names) {
    const b = s.byBackend?.[name] ?? {};
    const l = s.latency?.[name] ?? {};
    const ms = (v: unknown) => (typeof v === 'number' ? String(v) : '-');
    lines.push(`| ${name} | ${n(b.shown)} | ${n(b.accepted)} | ${n(b.partiallyAccepted)} | ${ms(l.p50)} | ${ms(l.p95)} |`);
  }
  const ne = s.nextEdit;
  if (ne) {
    const sum = (m: Record<string, number> | undefined) => Object.values(m ?? {}).reduce((a, b) => a + n(b), 0);
    lines.push('', `next edits: requests ${n(ne.requests)}, suggested ${sum(ne.suggested)}, shown ${sum(ne.shown)}, accepted ${sum(ne.accepted)}, dismissed ${sum(ne.dismissed)}`);
    const models = [...new Set([ne.suggested, ne.shown, ne.accepted, ne.dismissed].flatMap((m) => Object.keys(m ?? {})))].sort();
    if (models.length > 0) lines.push('', '| next-edit model | suggested | shown | accepted | dismissed |', '|---|---|---|---|---|', ...models.map((m) => `| ${m} | ${n(ne.suggested?.[m])} | ${n(ne.shown?.[m])} | ${n(ne.accepted?.[m])} | ${n(ne.dismissed?.[m])} |`));
  }
  if (s.spend) lines.push('', `cloud spend ${s.spend.day ?? 'today'}: $${n(s.spend.usd).toFixed(4)}`);
  if (s.status) lines.push(`status: ${s.status.state ?? '?'}${s.status.message ? ` - ${s.status.message}` : ''}`);
  return lines.join('\n') + '\n';
}

/** `tandem/status` as the contract fixes it, plus `snoozedUntil` while ghost text is snoozed. */
export interface Status {
  state: 'ok' | 'degraded' | 'offline';
  message: string;
  backends: { name: string; healthy: boolean; latencyMs?: number | null }[];
  snoozedUntil?: string;
}

/** The status bar's text: the state with the first healthy backend's latency, or that ghost text is snoozed. */
export function statusBarText(status: Status | undefined): string {
  if (!status) return '$(sparkle) tandem';
  if (typeof status.snoozedUntil === 'string') return '$(clock) tandem snoozed';
  const healthy = status.backends.find((b) => b.healthy && typeof b.latencyMs === 'number');
  const icon = { ok: '$(check)', degraded: '$(warning)', offline: '$(error)' }[status.state] ?? '$(question)';
  return `${icon} tandem${healthy ? ` ${healthy.name} ${Math.round(healthy.latencyMs!)} ms` : ''}`;
}

/** What *Snooze Inline Completions…* offers: how long, and "Resume now" while snoozed. */
export function snoozeChoices(snoozedUntil: string | undefined): { label: string; minutes: number }[] {
  const choices = [5, 15, 30, 60, 240].map((m) => ({ label: m < 60 ? `${m} minutes` : `${m / 60} hour${m === 60 ? '' : 's'}`, minutes: m }));
  return snoozedUntil ? [{ label: 'Resume now', minutes: 0 }, ...choices] : choices;
}

/** `tandem.snooze`'s arguments: minutes, 0 resumes. */
export function snoozeArgs(minutes: number): unknown[] {
  return [minutes];
}

/** Longest new text shown beside a next edit; the whole of it is in the decoration's hover. */
const PREVIEW_CHARS = 120;

/**
 * A next edit's new text as one line of decoration text (a decoration cannot break lines): line
 * breaks shown as ⏎, cut at PREVIEW_CHARS with an ellipsis.
 */
export function previewText(text: string): string {
  const one = text.replace(/\r?\n/g, '⏎');
  return one.length > PREVIEW_CHARS ? `${one.slice(0, PREVIEW_CHARS - 1)}…` : one;
}
