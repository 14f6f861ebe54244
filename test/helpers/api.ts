// Management API tests: a whole switch whose HTTP side runs on the server named (uws or node),
// and a client that speaks plain node:http(s) with no connection reuse, so that every server,
// uWS included, is left with no idle connection when the test stops it.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { generateKeyPairSync } from 'node:crypto';
import { compactDecrypt } from 'jose';
import { loadUws } from '../../api/http.js';
import { startTestSwitch, type TestSwitch } from './switch.js';

export type ServerKind = 'uws' | 'node';

interface Tap {
  teardown(fn: () => unknown): void;
  test(name: string, fn: (t: Tap & { equal: (...a: unknown[]) => void }) => Promise<void>): Promise<void> | void;
  skip?: unknown;
}

/** The servers a test runs against: both where uWS loads (Node 16-20), else node only. */
export function serverKinds(): { kind: ServerKind; skip: string | false }[] {
  const u = loadUws();
  return [{ kind: 'uws', skip: u.ok ? false : u.reason }, { kind: 'node', skip: false }];
}

export interface ApiSwitch extends TestSwitch { api: ApiClient }

export async function startApiSwitch(t: { teardown(fn: () => unknown): void }, kind: ServerKind, env: Record<string, string> = {}): Promise<ApiSwitch> {
  const s = await startTestSwitch(t, { env: { HTTP_SERVER: kind, ...env } });
  if (s.app.httpServer !== kind) throw new Error(`asked for ${kind}, got ${s.app.httpServer}`);
  return Object.assign(s, { api: new ApiClient(s.app.httpPort) });
}

export interface ApiAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is instead of JSON.stringify(body). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

export interface TlsClient { ca: Buffer; cert?: Buffer; key?: Buffer }

export class ApiClient {
  /** `apiKey`: sent as `Authorization: Bearer` unless a call sets its own authorization header. */
  constructor(readonly port: number, private readonly tls: TlsClient | null = null, private readonly apiKey: string | null = null) {}

  get(path: string, o: CallOptions = {}): Promise<ApiAnswer> { return this.call('GET', path, o); }
  post(path: string, body?: unknown, o: CallOptions = {}): Promise<ApiAnswer> { return this.call('POST', path, { ...o, body }); }
  delete(path: string, o: CallOptions = {}): Promise<ApiAnswer> { return this.call('DELETE', path, o); }

  call(method: string, path: string, o: CallOptions = {}): Promise<ApiAnswer> {
    const payload = o.raw !== undefined ? Buffer.from(o.raw) : o.body === undefined ? null : Buffer.from(JSON.stringify(o.body));
    const headers: Record<string, string | number> = { ...(this.apiKey === null ? {} : { authorization: `Bearer ${this.apiKey}` }), ...o.headers };
    if (payload !== null) {
      if (headers['transfer-encoding'] === undefined) headers['content-length'] = payload.length;
      if (o.raw === undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    }
    const opts = { host: '127.0.0.1', port: this.port, method, path, headers, agent: false as const };
    return new Promise((resolve, reject) => {
      const onRes = (res: import('node:http').IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try { parsed = JSON.parse(text); } catch { parsed = undefined; }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: parsed });
        });
        res.on('error', reject);
      };
      const req = this.tls === null
        ? httpRequest(opts, onRes)
        : httpsRequest({ ...opts, ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key, servername: 'localhost' }, onRes);
      req.on('error', reject);
      req.end(payload ?? undefined);
    });
  }
}

/** A customer with KYC SUCCESS and an EUR balance in the demo program, made through the API. */
export async function walletWithBalance(api: ApiClient, kyc = 'SUCCESS'): Promise<{ customerId: string; balanceId: string }> {
  const w = await api.post('/lifecycle/v1/wallet', {
    firstName: 'Ada', lastName: 'Lovelace', phone: '+48500100200', email: 'ada@example.com', birthDate: '1990-12-10', state: 'Mazowieckie', kyc,
  });
  if (w.status !== 201) throw new Error(`wallet: ${w.status} ${w.text}`);
  const customerId = String(w.json.id);
  if (kyc !== 'SUCCESS') return { customerId, balanceId: '' };
  const b = await api.post(`/secure/customers/${customerId}/balances`, { currency: 'EUR', configId: '0019167984' });
  if (b.status !== 201) throw new Error(`balance: ${b.status} ${b.text}`);
  return { customerId, balanceId: b.json.id as string };
}

/** A virtual card in the demo program; its PAN and expiry (YYMM) read through the JWE answer, as a partner would. */
export async function issueVirtualCard(api: ApiClient, customerId: string, balanceId: string, configId = '0019167984'): Promise<{ id: string; pan: string; expiry: string }> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const card = await api.post(`/secure/customers/${customerId}/cards/virtual`, { balanceId, configId }, {
    headers: { 'Encrypt-Response': 'true', 'Public-Key': Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64') },
  });
  if (card.status !== 201) throw new Error(`card: ${card.status} ${card.text}`);
  const full = JSON.parse(new TextDecoder().decode((await compactDecrypt(card.json.payload, privateKey)).plaintext)) as Record<string, string>;
  const exp = full.exp as string;
  return { id: full.id as string, pan: full.cardNo as string, expiry: exp.slice(2, 4) + exp.slice(5, 7) };
}
