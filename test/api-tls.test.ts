// HTTPS with client certificates: a CA, a server and two client certificates (one from another
// CA) made with openssl at run time. /secure, /lifecycle and /feed need a certificate the CA
// verified; /health stays open for probes. TLS always runs on node:https (docs/api.md says why).
import t from 'tap';
import { request } from 'node:https';
import { startTestSwitch } from './helpers/switch.js';
import { ApiClient } from './helpers/api.js';
import { makePki } from './helpers/pki.js';
import { loadConfig } from '../app/config.js';

t.test('mTLS on /secure when certificates are configured', async (t) => {
  const pki = makePki(t);
  const f = pki.read;
  const s = await startTestSwitch(t, {
    env: { HTTP_SERVER: 'auto', HTTP_TLS_CERT: pki.path('server.pem'), HTTP_TLS_KEY: pki.path('server.key'), HTTP_TLS_CA: pki.path('ca.pem') },
  });
  t.equal(s.app.httpServer, 'node', 'TLS is served by node:https');
  const port = s.app.httpPort;
  const anonymous = new ApiClient(port, { ca: f('ca.pem') });
  const client = new ApiClient(port, { ca: f('ca.pem'), cert: f('client.pem'), key: f('client.key') });
  const rogue = new ApiClient(port, { ca: f('ca.pem'), cert: f('rogue.pem'), key: f('rogue.key') });

  t.equal((await anonymous.get('/health')).status, 200, '/health needs no certificate');
  t.equal((await anonymous.get('/openapi.json')).status, 200);
  const refused = await anonymous.get('/secure/summary');
  t.equal(refused.status, 403);
  t.equal(refused.json.title, 'CLIENT_CERTIFICATE_REQUIRED');
  t.equal((await anonymous.post('/lifecycle/v1/wallet', {})).status, 403, '/lifecycle too');
  t.equal((await rogue.get('/secure/summary')).status, 403, 'a certificate from another CA is refused');
  t.equal((await client.get('/secure/summary')).status, 200, 'a certificate from the CA is accepted');
  const w = await client.post('/lifecycle/v1/wallet', { firstName: 'A', lastName: 'B', phone: '48500100200', email: 'a@b.pl', birthDate: '1980-01-01', state: 'X', kyc: 'SUCCESS' });
  t.equal(w.status, 201);

  const feed = await new Promise<number>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: '/feed', ca: f('ca.pem'), servername: 'localhost', agent: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': Buffer.alloc(16, 1).toString('base64') },
    }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('upgrade', (_res, socket) => { socket.destroy(); resolve(101); });
    req.on('error', reject);
    req.end();
  });
  t.equal(feed, 403, 'the feed refuses a WebSocket without a certificate');
});

t.test('TLS settings go together', async (t) => {
  t.throws(() => loadConfig({ HTTP_TLS_CERT: 'a.pem' }), /HTTP_TLS_CERT, HTTP_TLS_KEY and HTTP_TLS_CA go together/);
  t.throws(() => loadConfig({ HTTP_SERVER: 'fast' }), /HTTP_SERVER=fast must be one of auto, uws, node/);
  t.equal(loadConfig({}).httpTls, null, 'plain HTTP by default');
  t.equal(loadConfig({}).httpServer, 'auto');
});
