/**
 * Why a TLS connection to Temporal failed, in words. The gRPC clients report only that they could
 * not connect before the deadline; a plain TLS handshake with the same settings says whether the
 * server's certificate was not trusted or the server refused ours.
 */
import { connect, type TLSSocket } from 'node:tls';

/** The TLS settings a connection uses (PEM buffers), as in WorkerConfig's `temporal.tls`. */
export interface TlsSettings {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
}

/** How long the server has, after the handshake, to refuse the client certificate (TLS 1.3 says so after it). */
const REFUSAL_WAIT_MS = 1_000;

/**
 * Tries a TLS handshake with `address` ("host:port") and `tls`; resolves to what went wrong, or
 * undefined when the handshake holds (or the server cannot be reached at all: not a TLS problem).
 */
export function diagnoseTls(address: string, tls: TlsSettings, timeoutMs = 5_000): Promise<string | undefined> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at);
  const port = Number(address.slice(at + 1));
  return new Promise((resolve) => {
    let handshaken = false;
    const socket: TLSSocket = connect({
      host,
      port,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      servername: tls.serverName,
      ALPNProtocols: ['h2'],
    });
    const done = (why: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('secureConnect', () => {
      handshaken = true;
      setTimeout(() => done(undefined), REFUSAL_WAIT_MS);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EHOSTUNREACH') return done(undefined);
      done(describe(err, handshaken, tls));
    });
  });
}

const CLIENT_CERT_SETTINGS = 'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (temporal.tls.certFile, keyFile)';
const SERVER_CERT_SETTINGS = 'TEMPORAL_TLS_CA and TEMPORAL_TLS_SERVER_NAME (temporal.tls.caFile, serverName)';

/** The words for a TLS error: which side's certificate, and the library's reason. */
function describe(err: NodeJS.ErrnoException, handshaken: boolean, tls: TlsSettings): string {
  const reason =
    err.message
      .replace(/^.*?(ssl\/tls alert|alert) /i, 'alert ')
      .replace(/[:;].*$/s, '')
      .trim() ||
    err.code ||
    'TLS error';
  if (handshaken || /ALERT_(CERTIFICATE_REQUIRED|UNKNOWN_CA|BAD_CERTIFICATE|HANDSHAKE_FAILURE)/.test(err.code ?? '')) {
    return tls.cert
      ? `TLS: the server refused our client certificate (${reason}); check ${CLIENT_CERT_SETTINGS}`
      : `TLS: the server requires a client certificate (${reason}); set ${CLIENT_CERT_SETTINGS}`;
  }
  return `TLS: the server's certificate was not accepted (${reason}); check ${SERVER_CERT_SETTINGS}`;
}
