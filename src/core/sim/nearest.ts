/**
 * "Did you mean …?" for a mistyped name: the known name fewest edits away (insertions, deletions,
 * substitutions and swaps of two neighbouring characters), when it is close enough to be the one
 * meant. A name that one known name contains, or that contains it (`instance_change`), counts as close.
 */

/** Edits between a and b (optimal string alignment distance), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // Three rows of the dynamic-programming table: the row before last is needed for swaps.
  let before = new Array<number>(t.length + 1).fill(0);
  let last = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min(last[j] + 1, row[j - 1] + 1, last[j - 1] + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d = Math.min(d, before[j - 2] + 1);
      row.push(d);
    }
    before = last;
    last = row;
  }
  return last[t.length];
}

/** The known name nearest to `word`, or undefined when none is plausibly the one meant. */
export function nearest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  // At most a third of the word mistyped (at least 2 edits allowed): further off is another word.
  const allowed = Math.max(2, Math.floor(w.length / 3));
  let best: { name: string; score: number } | undefined;
  for (const name of known) {
    const n = name.toLowerCase();
    const contained = w.length >= 4 && (n.includes(w) || w.includes(n));
    const score = contained ? 1 : editDistance(w, n);
    if (score <= allowed && (best === undefined || score < best.score)) best = { name, score };
  }
  return best?.name;
}
