// Ledger test scenarios: each one ends with the invariant checker over everything it wrote.
import type { Test } from 'tap';
import type { Ledger } from '../../ledger/index.js';
import { checkLedger, formatReport } from '../../ledger/check.js';

export function ledgerScenarios(root: Test): {
  /** The ledger a scenario opened, registered with opened.set(t, ledger), is checked when the scenario ends. */
  opened: Map<Test, Ledger>;
  scenario(name: string, body: (t: Test) => Promise<void>): void;
} {
  const opened = new Map<Test, Ledger>();
  const scenario = (name: string, body: (t: Test) => Promise<void>): void => {
    root.test(name, async (t) => {
      await body(t);
      const ledger = opened.get(t);
      if (ledger === undefined) return;
      const report = await checkLedger(ledger.redis);
      t.ok(report.ok, 'ledger check passes', { diagnostic: !report.ok, report: formatReport(report) });
    });
  };
  return { opened, scenario };
}
