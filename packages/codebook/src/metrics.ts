/**
 * Codebook health: how many codes a batch used and how evenly.
 *  - usage: fraction of codes chosen at least once;
 *  - perplexity: exp(H(p)), p the frequency of each code (K when uniform, 1 when collapsed);
 *  - dead codes: codes never chosen.
 */
export interface CodebookStats {
  usage: number;
  perplexity: number;
  deadCodes: number;
  counts: Int32Array;
}

export function codebookStats(indices: ArrayLike<number>, K: number): CodebookStats {
  const counts = new Int32Array(K);
  let n = 0;
  for (let i = 0; i < indices.length; i++) {
    if (indices[i] < 0) continue; // masked positions
    counts[indices[i]]++;
    n++;
  }
  let h = 0;
  let used = 0;
  for (const c of counts) {
    if (!c) continue;
    used++;
    const p = c / n;
    h -= p * Math.log(p);
  }
  return { usage: used / K, perplexity: Math.exp(h), deadCodes: K - used, counts };
}
