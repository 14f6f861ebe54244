// A throw-away PKI made with openssl at run time: a CA, a server certificate for localhost and
// 127.0.0.1, a client certificate from the CA and one from another CA ("rogue"). Used by the
// HTTPS (api-tls) and ISO link (switch-tls) tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  dir: string;
  /** Absolute path of a file in the PKI directory (`ca.pem`, `server.key`, `rogue.pem`, ...). */
  path(name: string): string;
  /** Contents of a file in the PKI directory. */
  read(name: string): Buffer;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** Makes the PKI in a fresh temporary directory, removed by the test's teardown. */
export function makePki(t: { teardown(fn: () => unknown): void }): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const ca of ['ca', 'rogue-ca']) openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=${ca}`]);
  const leaf = (name: string, ca: string, ext: string) => {
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext]);
  };
  leaf('server', 'ca', 'server.ext');
  leaf('client', 'ca', 'client.ext');
  leaf('rogue', 'rogue-ca', 'client.ext');
  return { dir, path: (n) => join(dir, n), read: (n) => readFileSync(join(dir, n)) };
}
