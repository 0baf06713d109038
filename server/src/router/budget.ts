// Cloud spend: tokens × the backend's price, summed per local day and kept on disk across restarts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stateDir } from '../util/paths.js';

/** `$XDG_STATE_HOME/tandem/spend.json`, else `~/.local/state/tandem/spend.json`. */
export function spendPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'spend.json');
}

export interface Prices {
  pricePerMTokIn?: number;
  pricePerMTokOut?: number;
}

export function costUsd(p: Prices, tokensIn: number, tokensOut: number): number {
  return ((p.pricePerMTokIn ?? 0) * tokensIn + (p.pricePerMTokOut ?? 0) * tokensOut) / 1_000_000;
}

/** The local calendar day, so "daily" means the developer's day, not UTC's. */
export function localDay(d: Date): string {
  const m = String(d.getMonth() + 1).padStart(2, '0');
  const day = String(d.getDate()).padStart(2, '0');
  return `${d.getFullYear()}-${m}-${day}`;
}

interface State {
  day: string;
  usd: number;
  byBackend: Record<string, number>;
}

export class SpendLedger {
  private state: State;

  /** `path`: where the day's total survives a restart (undefined: memory only). */
  constructor(private readonly path: string | undefined, private readonly now: () => Date = () => new Date()) {
    this.state = this.load();
  }

  private load(): State {
    const today = localDay(this.now());
    if (this.path) {
      try {
        const s = JSON.parse(readFileSync(this.path, 'utf8')) as State;
        if (s.day === today && typeof s.usd === 'number') return { day: s.day, usd: s.usd, byBackend: s.byBackend ?? {} };
      } catch {
        /* no ledger yet, or unreadable: start the day at zero */
      }
    }
    return { day: today, usd: 0, byBackend: {} };
  }

  private roll(): void {
    const today = localDay(this.now());
    if (this.state.day !== today) this.state = { day: today, usd: 0, byBackend: {} };
  }

  record(backend: string, prices: Prices, tokensIn: number, tokensOut: number): number {
    this.roll();
    const usd = costUsd(prices, tokensIn, tokensOut);
    if (usd <= 0) return 0;
    this.state.usd += usd;
    this.state.byBackend[backend] = (this.state.byBackend[backend] ?? 0) + usd;
    if (this.path) {
      try {
        mkdirSync(dirname(this.path), { recursive: true });
        writeFileSync(this.path, JSON.stringify(this.state));
      } catch {
        /* the in-memory total still caps this session */
      }
    }
    return usd;
  }

  today(): { day: string; usd: number; byBackend: Record<string, number> } {
    this.roll();
    return { day: this.state.day, usd: this.state.usd, byBackend: { ...this.state.byBackend } };
  }

  /** True once today's spend reached `dailyUsd` (no cap when undefined). */
  exhausted(dailyUsd: number | undefined): boolean {
    return dailyUsd !== undefined && this.today().usd >= dailyUsd;
  }
}
