// The dashboard with API keys (API_KEYS_FILE): the page and its scripts load without a key, the
// numbers and the feed answer 401 until a read key is entered in the page's key field; then the
// page shows the numbers, opens the feed (the key as a WebSocket subprotocol) and shows an
// authorization sent over ISO 8583. Headless Debian chromium, the node:http server.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, startApiSwitch } from './helpers/api.js';
import { IsoClient } from './helpers/iso-client.js';
import { CHROMIUM, auth, feedLive, fundedCard, launch, openDashboard, rowShown, text, until } from './helpers/dashboard-page.js';

t.test('with API keys the page asks for a read key, then shows the feed and the numbers', async (t) => {
  if (!existsSync(CHROMIUM)) { t.fail(`chromium is not installed at ${CHROMIUM}`); return; }
  const dir = mkdtempSync(join(tmpdir(), 'antaca-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'keys.json');
  const key = 'antaca_dashboard-read-key-0123456789';
  writeFileSync(file, JSON.stringify({ keys: [{ name: 'wall', scope: 'read', key }, { name: 'ops', scope: 'write', key: `${key}-w` }] }), { mode: 0o600 });
  const s = await startApiSwitch(t, 'node', { API_KEYS_FILE: file });
  const api = new ApiClient(s.app.httpPort, null, `${key}-w`);
  const card = await fundedCard(api);
  const browser = await launch(t);
  const { page } = await openDashboard(browser, s.app.httpPort);
  await until(page, `!document.getElementById('key-form').hidden && ${text('stats-status')}.includes('an API key is needed')`);
  await page.type('#key-input', key);
  await page.click('#key-form button');
  await until(page, `document.getElementById('key-form').hidden && ${text('stats-status')}.startsWith('stats: ') && !${text('stats-status')}.includes('unavailable')`);
  await feedLive(page);
  const iso = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => iso.close());
  t.equal((await iso.request(auth(card.pan, card.expiry, '000007', 1_000)))['39'], '00');
  await rowShown(page, card.masked, '00');
  t.pass('a read key entered in the page opens the feed and the numbers');
});

