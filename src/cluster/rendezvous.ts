/**
 * Rendezvous (highest-random-weight) hashing: each check goes to the replica
 * whose id scores highest with the check's name. Every replica computes the
 * same answer from the same live set, and a replica that joins or dies moves
 * only the checks it wins or held: about 1/n of them, not a reshuffle.
 *
 * The score is FNV-1a over the two strings with a murmur3 finalizer: plain
 * code, so replicas on different runtimes or versions agree.
 */
export function rendezvousOwner(key: string, replicaIds: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const id of replicaIds) {
    const score = weight(key, id);
    // Ties (one in four billion) go to the smaller id, so every replica breaks them alike.
    if (score > bestScore || (score === bestScore && best !== undefined && id < best)) {
      best = id;
      bestScore = score;
    }
  }
  return best;
}

function weight(key: string, id: string): number {
  let h = 0x811c9dc5;
  const mix = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  };
  mix(key);
  // A separator no name contains, so ("ab", "c") and ("a", "bc") differ.
  h ^= 0xff;
  h = Math.imul(h, 0x01000193);
  mix(id);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
