// The server's stderr as the output channel shows it: each line once, at the level the server
// gave it. Plain functions without `vscode`, so test/clients/vscode.test.ts runs them.
//
// Why stderr and not window/logMessage: the server writes every log line to both once the editor
// is connected, and vscode-languageclient would show both, the stderr copy tagged [error]. Only
// stderr has the whole log: lines from before `initialize`, and Node's own output when the
// process fails. So the extension reads stderr and keeps window/logMessage out of the channel.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface LogLine {
  level: LogLevel;
  /** The line without the server's `[level] ` prefix (the channel adds its own). */
  text: string;
}

const OWN_LINE = /^\[(error|warn|info|debug|trace)\] (.*)$/s;

/** A line in the server's log format (`[level] tag: message`), as stderr and window/logMessage carry it. */
export function isServerLogLine(text: string): boolean {
  return OWN_LINE.test(text);
}

/**
 * Reads stderr line by line. A line of the server's log (`[info] server: …`) has its level; an
 * indented line (a stack trace's `    at …`) continues the line before it; a warning Node prints
 * (`(node:123) Warning: …`) is a warning; anything else is an error (a crash, a failed start).
 */
export class StderrReader {
  private last: LogLevel = 'error';

  /** The line as the channel shows it; undefined for a blank one. */
  line(raw: string): LogLine | undefined {
    if (raw.trim() === '') return undefined;
    const own = OWN_LINE.exec(raw);
    if (own) {
      this.last = own[1] as LogLevel;
      return { level: this.last, text: own[2]! };
    }
    if (/^\s/.test(raw)) return { level: this.last, text: raw };
    this.last = /^\(node:\d+\) (\[\w+\] )?\w*Warning: /.test(raw) ? 'warn' : 'error';
    return { level: this.last, text: raw };
  }
}
