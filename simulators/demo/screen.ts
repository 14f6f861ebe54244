// The demo's terminal view. On a terminal: a block redrawn in place about once a second with plain
// ANSI (cursor up, clear line), the cli-progress bar below it when a duration is set. Otherwise
// (or with --non-interactive): one summary line every 5 s. And the final summary, the same in both.
// Nothing here ever sees a full PAN or a card datum: the cards are listed by main.ts, masked,
// before the run, and card data only as counts of the messages that carried each kind of it.
import { plot } from 'asciichart';
import cliProgress from 'cli-progress';
import type { DemoStats } from './stats.js';

export interface ScreenContext {
  title: string;
  switchLine: string;
  httpUrl: string;
  stats: DemoStats;
  inFlight: () => number;
  /** Cards, top-ups, partner reloads: one line. */
  fleetLine: () => string;
  /** The last thing worth a warning (an API failure while topping up, a switch log line), or null. */
  warning: () => string | null;
  durationSeconds: number | null;
}

const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)) + ' ms';

export function latencyLine(stats: DemoStats): string {
  const p = stats.percentilesMs();
  return p === null ? 'latency     no answers yet' : `latency     p50 ${ms(p.p50)}   p95 ${ms(p.p95)}   p99 ${ms(p.p99)}   max ${ms(p.max)}`;
}

/** What card data the messages carried, the most frequent first: "card data   CVV2 812, ARQC 301, …". */
export function cardDataLine(stats: DemoStats): string {
  const parts = [...stats.byData].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([d, n]) => `${d} ${n}`);
  return `card data   ${parts.length === 0 ? 'none sent yet' : parts.join(', ')}`;
}

export function codeLines(stats: DemoStats, indent = '  '): string[] {
  return stats.codesByCount().map(([key, n]) => `${indent}${String(n).padStart(7)}  ${key}`);
}

export function whereToLook(httpUrl: string): string[] {
  const ws = httpUrl.replace(/^http/, 'ws');
  return [
    'where to look next',
    `  dashboard   ${httpUrl}/dashboard`,
    `  metrics     ${httpUrl}/metrics`,
    `  live feed   ${ws}/feed  (WebSocket, PANs masked)`,
    `  API docs    ${httpUrl}/openapi.json  (and docs/api.md)`,
  ];
}

/** The block of the live view. */
export function liveBlock(c: ScreenContext): string[] {
  const s = c.stats;
  const series = s.perSecond.length > 0 ? s.perSecond : [0];
  const chart = plot(series, { height: 5, min: 0, format: (x) => x.toFixed(0).padStart(6) }).split('\n');
  const warning = c.warning();
  return [
    c.title,
    c.switchLine,
    '',
    `throughput  ${s.lastRate} answers/s   sent ${s.sent}, answered ${s.answered}, in flight ${c.inFlight()}${s.unanswered > 0 ? `, unanswered ${s.unanswered}` : ''}`,
    ...chart.map((l) => '  ' + l),
    `            answers/s, last ${series.length} s`,
    latencyLine(s),
    cardDataLine(s),
    '',
    'answers by response code',
    ...codeLines(s),
    '',
    c.fleetLine(),
    ...(warning === null ? [] : [`warning: ${warning}`]),
    '',
    ...whereToLook(c.httpUrl),
    '',
    'Ctrl-C to stop',
  ];
}

/** One plain line: elapsed, rate, latency, the codes. */
export function plainLine(c: ScreenContext): string {
  const s = c.stats;
  const elapsed = Math.round((Date.now() - s.startedMs) / 1000);
  const p = s.percentilesMs();
  const codes = s.codesByCount().map(([key, n]) => `${key.replace(/\s+/, ' ')} ${n}`).join(', ');
  return `[${String(elapsed).padStart(4)} s] sent ${s.sent}, answered ${s.answered}, ${s.lastRate}/s` +
    (p === null ? '' : `, p50 ${ms(p.p50)} p95 ${ms(p.p95)} p99 ${ms(p.p99)}`) + ` | ${codes}`;
}

/** The live view: redrawn in place on a terminal, else a line every 5 s. */
export class Screen {
  private timer: NodeJS.Timeout | null = null;
  private drawnLines = 0;
  private bar: cliProgress.SingleBar | null = null;
  private ticks = 0;

  constructor(private readonly c: ScreenContext, private readonly interactive: boolean, private readonly out: NodeJS.WriteStream = process.stdout) {}

  start(): void {
    if (this.interactive) {
      this.out.write('\x1b[?25l');
      this.draw();
      if (this.c.durationSeconds !== null) {
        this.bar = new cliProgress.SingleBar({
          stream: barStream(this.out), format: '{bar} {percentage}% | {value}/{total} s | ETA {eta_formatted}',
          hideCursor: false, gracefulExit: false, clearOnComplete: false,
        }, cliProgress.Presets.shades_classic);
        this.bar.start(this.c.durationSeconds, 0);
      }
    }
    this.timer = setInterval(() => this.tick(), 1_000);
  }

  private tick(): void {
    this.c.stats.tick();
    this.ticks++;
    if (this.interactive) {
      this.draw();
      this.bar?.update(this.elapsedSeconds());
    } else if (this.ticks % 5 === 0) {
      this.out.write(plainLine(this.c) + '\n');
    }
  }

  /** Whole seconds since the run started, at most the duration (the bar's value). */
  private elapsedSeconds(): number {
    return Math.min(Math.round((Date.now() - this.c.stats.startedMs) / 1000), this.c.durationSeconds ?? 0);
  }

  /** Rewrites the block in place; the bar (if any) stays on the line below it. */
  private draw(): void {
    const lines = liveBlock(this.c);
    // A shorter block than last time is padded so that no stale line is left between it and the bar.
    while (lines.length < this.drawnLines) lines.push('');
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    this.out.write('\r' + up + lines.map((l) => l + '\x1b[K').join('\n') + '\n');
    this.drawnLines = lines.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.interactive) {
      if (this.bar) { this.bar.update(this.elapsedSeconds()); this.bar.stop(); }
      else this.draw();
      this.out.write('\x1b[?25h');
    }
  }
}

/**
 * The terminal cli-progress draws on, without its cursor save and restore (ESC 7 / ESC 8): the
 * block above the bar is redrawn every second and may scroll the screen, which would send a
 * restored cursor to the wrong line.
 */
function barStream(out: NodeJS.WriteStream): NodeJS.WriteStream {
  return new Proxy(out, {
    get(target, prop, receiver) {
      if (prop === 'write') return (chunk: string) => (chunk === '\x1b7' || chunk === '\x1b8' ? true : target.write(chunk));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** The final summary. */
export function summary(c: ScreenContext, why: string, provisioned: string[]): string {
  const s = c.stats;
  const seconds = ((Date.now() - s.startedMs) / 1000).toFixed(1);
  const kinds = [...s.byKind].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `demo stopped (${why}) after ${seconds} s`,
    `sent ${s.sent}, answered ${s.answered}${s.unanswered > 0 ? `, unanswered ${s.unanswered}` : ''}${s.unmatched > 0 ? `, unmatched answers ${s.unmatched}` : ''}`,
    `mix sent: ${kinds}`,
    cardDataLine(s),
    latencyLine(s),
    'answers by response code',
    ...codeLines(s),
    ...provisioned,
  ].join('\n');
}
