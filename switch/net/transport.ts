// The transport under the ISO 8583 listener (SPEC §1): plain TCP, or TLS that requires a client
// certificate issued by a configured CA (ISO_TLS_CERT, ISO_TLS_KEY, ISO_TLS_CA). The listener
// (listener.ts) gets its server from a Transport and sees only sockets that are ready to carry
// frames, so framing, backpressure, limits and shutdown are the same code for both.
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { AppError } from '../../errors/index.js';

/** Paths of a PEM server certificate, its private key and the CA bundle client certificates must chain to. */
export interface TlsPaths { cert: string; key: string; ca: string }

/** Why a TLS handshake failed, as a bounded set (the metric label of switch_iso_tls_handshake_failures_total). */
export type HandshakeFailure = 'no_certificate' | 'untrusted_certificate' | 'not_tls' | 'timeout' | 'peer_closed' | 'other';

/** A handshake the transport refused: the peer (`address:port`), the reason and a short safe detail. */
export interface RefusedHandshake { peer: string; reason: HandshakeFailure; detail: string }

export interface TransportServer {
  server: Server;
  /** Closes connections still in their handshake (at shutdown: they never carried a frame). */
  abortHandshakes(): void;
}

export interface Transport {
  readonly kind: 'tcp' | 'tls';
  /**
   * A server (not yet listening) that calls `accept` with each socket ready for frames (for TLS:
   * after a handshake in which the client certificate verified) and `refused` for each failed
   * handshake; a refused connection is already closed and never reaches `accept`.
   */
  createServer(accept: (socket: Socket) => void, refused: (r: RefusedHandshake) => void): TransportServer;
}

/** A TLS handshake not finished within this is refused (reason `timeout`); Node's default is 120 s. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Plain TCP, Nagle off from the first byte (SPEC §2.1; STYLE: setNoDelay on every socket). */
export function plainTcp(): Transport {
  return {
    kind: 'tcp',
    createServer(accept) {
      return { server: createTcpServer({ noDelay: true, allowHalfOpen: false }, accept), abortHandshakes() {} };
    },
  };
}

/** PEM contents of the three ISO_TLS_* files. */
export interface TlsMaterial { cert: Buffer; key: Buffer; ca: Buffer }

/**
 * Reads the three files named by ISO_TLS_CERT, ISO_TLS_KEY and ISO_TLS_CA and checks that they form
 * a usable server context. Throws AppError SW_ERR_CONFIG with one line naming the variable and the file at
 * fault (unreadable, or not PEM that OpenSSL accepts); never quotes the files' contents.
 */
export function readIsoTls(paths: TlsPaths): TlsMaterial {
  const read = (name: string, path: string): Buffer => {
    try { return readFileSync(path); }
    catch (e) { throw new AppError('SW_ERR_CONFIG', `${name}=${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  };
  const material = { cert: read('ISO_TLS_CERT', paths.cert), key: read('ISO_TLS_KEY', paths.key), ca: read('ISO_TLS_CA', paths.ca) };
  try {
    createSecureContext(material);
  } catch (e) {
    const reason = String((e as Error).message ?? e).split('\n')[0]?.slice(0, 120);
    throw new AppError('SW_ERR_CONFIG', `ISO_TLS_CERT, ISO_TLS_KEY and ISO_TLS_CA do not form a usable TLS server (${paths.cert}, ${paths.key}, ${paths.ca}): ${reason}`);
  }
  return material;
}

/**
 * TLS (1.2 or 1.3) that requires a client certificate chaining to `material.ca`: a client without
 * one, with one from another CA, or speaking plain TCP is refused during the handshake, before any
 * frame is read. Only the failing connection is affected.
 */
export function mutualTls(material: TlsMaterial): Transport {
  return {
    kind: 'tls',
    createServer(accept, refused) {
      // Raw sockets still in their handshake, so shutdown need not wait for them to time out.
      const handshaking = new Set<Socket>();
      const server = createTlsServer({
        cert: material.cert, key: material.key, ca: material.ca, requestCert: true, rejectUnauthorized: true,
        minVersion: 'TLSv1.2', handshakeTimeout: HANDSHAKE_TIMEOUT_MS, noDelay: true, allowHalfOpen: false,
      }, (tls: TLSSocket) => accept(tls));
      // The TLS server wraps each raw socket in its own 'connection' listener; this one runs next
      // and notes the peer's address, which a socket refused after its handshake no longer has.
      const peers = new WeakMap<Socket, string>();
      server.on('connection', (raw: Socket) => {
        handshaking.add(raw);
        peers.set(raw, `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`);
        raw.once('close', () => handshaking.delete(raw));
      });
      server.on('secureConnection', (tls: TLSSocket) => {
        const raw = parentOf(tls);
        if (raw !== undefined) handshaking.delete(raw);
      });
      server.on('tlsClientError', (err: OpenSslError, tls: TLSSocket) => {
        const raw = parentOf(tls);
        const peer = (raw !== undefined ? peers.get(raw) : undefined) ?? `${tls.remoteAddress ?? '?'}:${tls.remotePort ?? '?'}`;
        // A certificate that does not verify completes the handshake; Node then destroys the socket
        // and reports only "socket hang up". The verification error it kept says what happened.
        const verifyError = (tls as unknown as { authorizationError?: string | Error | null }).authorizationError;
        if (verifyError) refused({ peer, reason: 'untrusted_certificate', detail: typeof verifyError === 'string' ? verifyError : verifyError.message });
        else refused({ peer, reason: handshakeFailure(err), detail: safeDetail(err) });
      });
      return { server, abortHandshakes() { for (const s of handshaking) s.destroy(); handshaking.clear(); } };
    },
  };
}

/** An error of a TLS handshake: Node's code and, from OpenSSL, the reason text without file names. */
type OpenSslError = Error & { code?: string; reason?: string };

/** The raw TCP socket under a server-side TLS socket (Node keeps it as `_parent`). */
function parentOf(tls: TLSSocket): Socket | undefined {
  return (tls as unknown as { _parent?: Socket })._parent;
}

/** The bounded reason of a failed handshake, from OpenSSL's and Node's error codes. */
export function handshakeFailure(err: OpenSslError): HandshakeFailure {
  const code = err.code ?? '';
  const msg = err.message ?? '';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket disconnected|socket hang up/i.test(msg)) return 'peer_closed';
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/i.test(code) || /did not return a certificate|certificate required/i.test(msg)) return 'no_certificate';
  if (/CERTIFICATE_VERIFY_FAILED|UNKNOWN_CA|BAD_CERTIFICATE|UNABLE_TO_|SELF_SIGNED|CERT_/i.test(code) || /certificate verify failed/i.test(msg)) return 'untrusted_certificate';
  if (/WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|PACKET_LENGTH_TOO_LONG|RECORD_LENGTH_MISMATCH|UNKNOWN_PROTOCOL|UNSUPPORTED_PROTOCOL|VERSION_TOO_LOW|NO_PROTOCOLS_AVAILABLE/i.test(code)) return 'not_tls';
  return 'other';
}

/** The code and OpenSSL's reason text (no certificate content, no peer data, no source paths), capped. */
function safeDetail(err: OpenSslError): string {
  const text = err.reason ?? (err.message ?? '').split('\n')[0] ?? '';
  return `${err.code ?? 'ERR'}: ${text.slice(0, 120)}`;
}
