// Appending whole lines to a file that other tandem processes append to at the same time.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Opens `path` for appending (O_APPEND: every write lands at the end, whoever wrote last), creating
 * it and its folder when missing, readable by the user only.
 */
export function openAppend(path: string): number {
  try {
    return openSync(path, 'a', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return openSync(path, 'a', 0o600);
  }
}

/**
 * Writes `text` (whole lines) with one write(): with O_APPEND, lines written by concurrent
 * processes never interleave. Only a full disk makes a write short; the rest is then tried, so a
 * line is cut only if the disk stays full (and the error is thrown).
 */
export function writeWhole(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
}

/** Appends whole lines to `path` at once, synchronously. */
export function appendLines(path: string, text: string): void {
  const fd = openAppend(path);
  try {
    writeWhole(fd, text);
  } finally {
    closeSync(fd);
  }
}
