// Logging: one injected Logger, tagged per module, never stdout (stdout carries LSP frames).

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export interface LogSink {
  write(level: LogLevel, line: string): void;
}

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  trace(msg: string): void;
  enabled(level: LogLevel): boolean;
  child(tag: string): Logger;
}

/** Shared, mutable state of a logger tree: level, sinks and the secrets to scrub. */
export class LogHub {
  level: LogLevel;
  private readonly sinks: LogSink[] = [];
  private secrets: string[] = [];

  constructor(level: LogLevel = 'info') {
    this.level = level;
  }

  addSink(sink: LogSink): void {
    this.sinks.push(sink);
  }

  /** Values (API keys) that must never appear in a log line, whatever the caller passed. */
  setSecrets(values: Iterable<string>): void {
    // Short values would scrub ordinary words; real keys are long.
    this.secrets = [...values].filter((v) => v.length >= 8);
  }

  emit(level: LogLevel, tag: string, msg: string): void {
    if (ORDER[level] > ORDER[this.level]) return;
    let line = `[${level}] ${tag}: ${msg}`;
    for (const s of this.secrets) if (line.includes(s)) line = line.split(s).join('<redacted>');
    for (const sink of this.sinks) sink.write(level, line);
  }

  logger(tag: string): Logger {
    const hub = this;
    return {
      error: (m) => hub.emit('error', tag, m),
      warn: (m) => hub.emit('warn', tag, m),
      info: (m) => hub.emit('info', tag, m),
      debug: (m) => hub.emit('debug', tag, m),
      trace: (m) => hub.emit('trace', tag, m),
      enabled: (l) => ORDER[l] <= ORDER[hub.level],
      child: (t) => hub.logger(`${tag}.${t}`),
    };
  }
}

export function isLogLevel(v: unknown): v is LogLevel {
  return typeof v === 'string' && v in ORDER;
}

export const stderrSink: LogSink = {
  write(_level, line) {
    process.stderr.write(line + '\n');
  },
};

/** A logger that drops everything, for tests and library callers that do not care. */
export function silentLogger(): Logger {
  return new LogHub('error').logger('silent');
}

/** Text of an unknown thrown value, without stack noise. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
