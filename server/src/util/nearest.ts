// "Did you mean …?": the known names nearest to a misspelled one (a config key, a model name).

/** Levenshtein distance, case-insensitive (a wrong case is the commonest typo: debounceMS). */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidates nearest to `word`, best first: at most `max`, and only those within a distance
 * that still reads as a typo (a third of the longer name, at least 2), or that contain it or are
 * contained in it (a model named without its organisation or tag).
 */
export function nearest(word: string, candidates: Iterable<string>, max = 3): string[] {
  const w = word.toLowerCase();
  const scored: { name: string; d: number }[] = [];
  for (const name of new Set(candidates)) {
    const n = name.toLowerCase();
    const d = editDistance(w, n);
    const limit = Math.max(2, Math.floor(Math.max(w.length, n.length) / 3));
    if (d <= limit) scored.push({ name, d });
    else if (w.length >= 3 && (n.includes(w) || w.includes(n))) scored.push({ name, d: limit + 1 });
  }
  return scored.sort((x, y) => x.d - y.d || x.name.localeCompare(y.name)).slice(0, max).map((s) => s.name);
}
