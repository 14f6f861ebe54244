// `npm run demo -- [options]`: see it work. Finds a switch (or starts one in this process),
// provisions customers, balances and cards through the management API, drives a live mixed
// workload over ISO 8583 and shows throughput, latency and answers by response code until Ctrl-C
// or --duration. Exit status: 0 after a clean stop, 1 with one line on bad arguments, 2 when the
// switch cannot be reached, cannot be started, or goes away mid-run. docs/tools.md shows a run.
import { maskPan } from '../../iso/mask.js';
import { IsoLink } from '../../iso/link.js';
import { ManagementApi } from '../lib/management-api.js';
import { toolKeyFile } from '../../cardauth/card-data.js';
import { cardKeys, FundingKeeper, major, provisionFleet, TOP_UP_MINOR, type Fleet } from './fleet.js';
import { HELP, parseOptions, UsageError, type DemoOptions } from './options.js';
import { Screen, summary, type ScreenContext } from './screen.js';
import { DemoStats } from './stats.js';
import { findOrStartSwitch, type Target } from './target.js';
import { Traffic } from './traffic.js';

/** How long a stop waits for answers still in flight. */
const DRAIN_MS = 5_000;

/** Stops are requested by a signal, the duration, or the switch going away; the first one wins. */
class StopRequest {
  why: string | null = null;
  gone = false;
  private wake: (why: string) => void = () => undefined;
  readonly promise = new Promise<string>((resolve) => { this.wake = resolve; });
  request(why: string, gone = false): void {
    if (this.why !== null) return;
    this.why = why;
    this.gone = gone;
    this.wake(why);
  }
}

const say = (line: string): void => { process.stdout.write(line + '\n'); };

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2), process.stdout.isTTY === true);
  if (o === 'help') { process.stdout.write(HELP); return 0; }
  const stop = new StopRequest();
  // A second Ctrl-C while stopping changes nothing: the stop is already bounded.
  process.on('SIGINT', () => stop.request('SIGINT'));
  process.on('SIGTERM', () => stop.request('SIGTERM'));
  say(`antaca demo: seed ${o.seed}, ${o.ratePerSecond} messages/s, ${o.durationSeconds === null ? 'until Ctrl-C' : `${o.durationSeconds} s`}, ${o.connections} ISO connection(s)`);
  const target = await findOrStartSwitch(o);
  say(target.description);
  target.onGone = (why) => stop.request(why, true);
  try {
    return await run(o, target, stop);
  } finally {
    await target.stop();
  }
}

async function run(o: DemoOptions, target: Target, stop: StopRequest): Promise<number> {
  const api = new ManagementApi(o.httpUrl);
  if (o.partner && target.partner === null) say('the EXTERNAL_BALANCE program is left out: it comes only with a switch the demo starts (--no-partner leaves it out there too)');
  const partner = target.partner;
  const fleet = await provisionFleet(api, {
    cards: o.cards,
    fundAtPartner: partner === null ? null : (customerId, balanceId, amount) => partner.sim.setBalance({ balanceId, userId: customerId, currency: 'EUR', amount }),
  }, say);
  for (const n of fleet.notes) say(n);
  // After the switch started: a switch the demo starts writes the development key set then.
  const keys = cardKeys(fleet, toolKeyFile());
  say(keys.note);
  if (stop.why !== null) { say(`demo stopped (${stop.why}) before sending anything`); return 0; }
  const links: IsoLink[] = [];
  for (let i = 0; i < o.connections; i++) links.push(await IsoLink.open({ host: o.isoHost, port: o.isoPort }));
  const stats = new DemoStats();
  const keeper = new FundingKeeper(api, fleet);
  const traffic = new Traffic(links, fleet, keeper, stats, o.seed, o.ratePerSecond, { cardData: keys.builder, kinds: o.kinds });
  traffic.onGone = (why) => stop.request(`the ISO 8583 connection to ${o.isoHost}:${o.isoPort} closed: ${why}`, true);
  const ctx: ScreenContext = {
    title: `antaca demo  seed ${o.seed}  ${o.ratePerSecond}/s  ${o.durationSeconds === null ? 'until Ctrl-C' : `${o.durationSeconds} s`}`,
    switchLine: target.description, httpUrl: o.httpUrl, stats, inFlight: () => traffic.inFlight, durationSeconds: o.durationSeconds,
    fleetLine: () => `cards ${fleet.cards.length} (made through the API), top-ups ${keeper.topUps}, partner balance reloads ${keeper.partnerReloads}`,
    warning: () => keeper.lastError ?? target.lastSwitchLog(),
  };
  const screen = new Screen(ctx, o.interactive);
  keeper.start();
  traffic.start();
  screen.start();
  const timer = o.durationSeconds === null ? null : setTimeout(() => stop.request('duration reached'), o.durationSeconds * 1000);
  await stop.promise;
  if (timer) clearTimeout(timer);
  keeper.stop();
  if (stop.gone) {
    screen.stop();
    await traffic.stop(0);
    process.stderr.write(`antaca demo: the switch went away: ${stop.why}\n`);
    say(summary(ctx, 'the switch went away', provisioned(fleet, keeper)));
    return 2;
  }
  await traffic.stop(DRAIN_MS);
  screen.stop();
  say(summary(ctx, stop.why ?? 'stopped', provisioned(fleet, keeper)));
  return 0;
}

/** What the summary says was made through the API. */
function provisioned(fleet: Fleet, keeper: FundingKeeper): string[] {
  const physical = fleet.cards.filter((c) => c.physical).length;
  return [
    `provisioned through the management API: ${fleet.customers} customers, ${fleet.balances} balances, ${fleet.cards.length} cards ` +
      `(${fleet.cards.length - physical} virtual, ${physical} physical activated with a PIN set; one locked, one whose customer has a transactional lock, ` +
      'one with a per-transaction limit, one with a card control, one with 1.00 EUR, one for partial approvals)',
    `  ${fleet.cards.map((c) => `${c.cardId} ${maskPan(c.pan)}`).join(', ')}`,
    `partner balances reloaded: ${fleet.partnerBalances.join(', ')}`,
    `during the run: ${keeper.topUps} top-ups of ${major(TOP_UP_MINOR)} EUR, ${keeper.partnerReloads} partner balance reloads`,
  ];
}

main().then((code) => exitAfterFlush(code), (e: unknown) => {
  const usage = e instanceof UsageError;
  process.stderr.write(`antaca demo: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}${usage ? ' (--help for usage)' : ''}\n`);
  exitAfterFlush(usage ? 1 : 2);
});

/** Exits once stdout has taken everything written (connections to the API may still be open). */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.exit(code));
}
