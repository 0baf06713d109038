// JSON with comments and trailing commas (tsconfig.json, jsconfig.json): read without a dependency.

export type JsoncResult = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Parses JSONC as TypeScript reads tsconfig files: `//` and `/* *\/` comments and a trailing
 * comma before `}` or `]` are allowed. Comments and those commas become spaces, so a position in
 * the error still points into the original text; the error names the line and column.
 */
export function parseJsonc(text: string): JsoncResult {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const out: string[] = [];
  let i = 0;
  let pendingComma = -1; // index in `out` of a comma that may turn out to be trailing
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"') {
      const start = i++;
      while (i < src.length && src[i] !== '"') i += src[i] === '\\' ? 2 : 1;
      i++;
      out.push(src.slice(start, i));
      pendingComma = -1;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      out.push(' '.repeat(stop - i));
      i = stop;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out.push(src.slice(i, stop).replace(/[^\n]/g, ' '));
      i = stop;
      continue;
    }
    if (c === ',') {
      pendingComma = out.length;
    } else if ((c === '}' || c === ']') && pendingComma >= 0) {
      out[pendingComma] = ' ';
      pendingComma = -1;
    } else if (!/\s/.test(c)) {
      pendingComma = -1;
    }
    out.push(c);
    i++;
  }
  const clean = out.join('');
  try {
    return { ok: true, value: JSON.parse(clean) };
  } catch (err) {
    // V8 quotes the text around the fault in some messages: keep the words, not the text.
    const msg = (err instanceof Error ? err.message : String(err)).replace(/, ".*" is not valid JSON$/s, '');
    const at = /position (\d+)/.exec(msg);
    if (!at) return { ok: false, error: msg };
    const pos = Number(at[1]);
    const before = clean.slice(0, pos);
    const line = before.split('\n').length;
    const col = pos - before.lastIndexOf('\n');
    return { ok: false, error: `${msg.replace(/ in JSON at position \d+.*$/s, '')} at line ${line}, column ${col}` };
  }
}
