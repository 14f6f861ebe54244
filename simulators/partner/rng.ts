// The simulators' seeded random numbers: the same generator as the codec's sample corpus
// (mulberry32, iso/samples.ts), so a run with a printed seed can be replayed on every
// platform and Node version.
export { SeededRandom } from '../../iso/samples.js';

/** A seed from the clock and the process id, for runs that did not choose one. */
export function freshSeed(): number {
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}
