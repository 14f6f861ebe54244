// A small seeded random number generator (mulberry32): the same seed gives the same sequence on
// every platform and Node version, so a simulator run with a printed seed can be replayed.

/** A seed from the clock and the process id, for runs that did not choose one. */
export function freshSeed(): number {
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

export class SeededRandom {
  private state: number;

  /** `seed` is taken as an unsigned 32-bit integer. */
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
