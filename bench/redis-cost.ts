// Redis's cost of what a benchmark ran, read from INFO: command time per answer (commandstats,
// script calls with their nested commands counted once) and AOF bytes per answer (persistence).
// Shared by bench:switch's rates and its one-at-a-time approval cost (bench/approval-cost.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../ledger/scripts.js';

/** Redis's time per answer of a run, from INFO commandstats reset before it. */
export interface RedisCost {
  usPerAnswer: number; usPerApproved: number;
  /** Of usPerAnswer, the time inside script calls (their nested commands included). */
  scriptUsPerAnswer: number;
  byCommand: Record<string, { usPerAnswer: number; callsPerAnswer: number; nested: boolean }>;
  /** Bytes appended to the AOF per answer (INFO persistence aof_current_size; NaN when the AOF was rewritten during the run). */
  aofBytesPerAnswer: number;
}

/** Script calls: their usec already includes every command they run (Redis counts those a second time under their own names). */
export const SCRIPT_CALLS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/**
 * Names of the commands the project's Lua scripts run: INFO commandstats counts them under their
 * own names as well as inside the script call's time, so they are left out of the sum. (A
 * top-level call of such a command, e.g. a card HGETALL when the card is not remembered, is then
 * left out too: the figure is a lower bound by those calls' few µs.)
 */
export function commandsInScripts(): Set<string> {
  const names = new Set<string>();
  for (const dir of ['ledger/lua', 'ledger/lua/includes', 'stores/lua', 'adapters/lua', 'bench/lua']) {
    let files: string[];
    try { files = readdirSync(join(projectRoot(), dir)).filter((f) => f.endsWith('.lua')); } catch { continue; }
    for (const f of files) {
      for (const m of readFileSync(join(projectRoot(), dir, f), 'utf8').matchAll(/redis\.p?call\('([A-Za-z]+)'/g)) names.add(m[1]!.toLowerCase());
    }
  }
  return names;
}

/** Redis time per answered request from INFO commandstats (reset before the run): script calls plus the commands sent on their own. */
export function redisCost(info: string, answered: number, approved: number): RedisCost {
  const nestedNames = commandsInScripts();
  const byCommand: RedisCost['byCommand'] = {};
  let total = 0;
  let scripts = 0;
  for (const m of info.matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)) {
    const name = m[1]!;
    const usec = Number(m[3]);
    const nested = nestedNames.has(name) && !SCRIPT_CALLS.has(name);
    if (!nested) total += usec;
    if (SCRIPT_CALLS.has(name)) scripts += usec;
    byCommand[name] = { usPerAnswer: usec / Math.max(1, answered), callsPerAnswer: Number(m[2]) / Math.max(1, answered), nested };
  }
  return { usPerAnswer: total / Math.max(1, answered), usPerApproved: total / Math.max(1, approved), scriptUsPerAnswer: scripts / Math.max(1, answered), byCommand, aofBytesPerAnswer: NaN };
}

/** The AOF's size and rewrite count from INFO persistence. */
export function aofState(info: string): { bytes: number; rewrites: number; rewriting: boolean } {
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { bytes: field('aof_current_size'), rewrites: field('aof_rewrites'), rewriting: field('aof_rewrite_in_progress') === 1 };
}

/** One line: µs per answer and per approval, AOF bytes, and the commands by time. */
export function formatCost(c: RedisCost): string {
  const show = (nested: boolean) => Object.entries(c.byCommand).filter(([, v]) => v.nested === nested && v.usPerAnswer >= 1).sort((a, b) => b[1].usPerAnswer - a[1].usPerAnswer)
    .map(([k, v]) => `${k} ${v.usPerAnswer.toFixed(1)} µs (${v.callsPerAnswer.toFixed(2)} calls)`).join(', ');
  const aof = Number.isNaN(c.aofBytesPerAnswer) ? 'AOF per answer: no figure (Redis rewrote its AOF during the run)' : `AOF ${c.aofBytesPerAnswer.toFixed(0)} bytes per answer`;
  return `redis per answer ${c.usPerAnswer.toFixed(1)} µs, per approved 0100 ${c.usPerApproved.toFixed(1)} µs, ${aof} — by command, µs and calls per answer: ${show(false)}; inside the scripts: ${show(true)}`;
}
