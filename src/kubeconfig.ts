/**
 * Loads a cluster's kubeconfig for the worker. Two things @kubernetes/client-node does not do for us:
 *
 * - Its YAML errors quote the file around the mistake, and a kubeconfig holds tokens and keys; the
 *   message would reach workflow history, `status` and the logs. Here an error names the path and
 *   line:column, never the file's content.
 * - It ignores kubectl's `tokenFile` and reads its own `token-file` once, untrimmed. Here both
 *   spellings read the file per request (cached for a minute, trimmed), so a mounted
 *   ServiceAccount token that the kubelet rotates keeps working without a restart.
 */
import { KubeConfig, type User } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';

/** A kubeconfig that cannot be used; the message names the path (and line:column), never the content. */
export class KubeconfigError extends Error {
  override readonly name = 'KubeconfigError';
}

/** Name of the auth provider that stands for a token file (see {@link tokenFileAuthenticator}). */
export const TOKEN_FILE_PROVIDER = 'edge-upgrade-token-file';

/** How long a token read from a file is used before the file is read again (ms); client-go uses a minute too. */
export const TOKEN_FILE_TTL_MS = 60_000;

type Authenticator = Parameters<KubeConfig['addAuthenticator']>[0];

/** Bearer tokens from files: re-read at most every {@link TOKEN_FILE_TTL_MS}, surrounding whitespace trimmed. */
export function tokenFileAuthenticator(now: () => number = Date.now): Authenticator {
  const cache = new Map<string, { token: string; readAt: number }>();
  return {
    isAuthProvider: (user: User) => user.authProvider?.name === TOKEN_FILE_PROVIDER,
    async applyAuthentication(user: User, opts) {
      const file = String((user.authProvider?.config as Record<string, unknown> | undefined)?.['token-file'] ?? '');
      let hit = cache.get(file);
      if (!hit || now() - hit.readAt > TOKEN_FILE_TTL_MS) {
        let token: string;
        try {
          token = readFileSync(file, 'utf8').trim();
        } catch (err) {
          throw new KubeconfigError(`cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'read error'}`);
        }
        if (!token) throw new KubeconfigError(`token file ${file} is empty`);
        hit = { token, readAt: now() };
        cache.set(file, hit);
      }
      opts.headers = { ...(opts.headers as Record<string, string> | undefined), Authorization: `Bearer ${hit.token}` };
    },
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Replaces `tokenFile` / `token-file` users with our token-file provider (paths made absolute against `dir`). */
function useTokenFiles(config: Record<string, unknown>, dir: string): void {
  if (!Array.isArray(config.users)) return;
  for (const entry of config.users) {
    if (!isRecord(entry) || !isRecord(entry.user)) continue;
    const user = entry.user;
    const file = user.tokenFile ?? user['token-file'];
    delete user.tokenFile;
    delete user['token-file'];
    // As in kubectl, an inline token wins over a token file.
    if (typeof file !== 'string' || !file || user.token) continue;
    user['auth-provider'] = { name: TOKEN_FILE_PROVIDER, config: { 'token-file': isAbsolute(file) ? file : join(dir, file) } };
  }
}

/**
 * Loads the kubeconfig at `path`, switching to `context` when given. Throws {@link KubeconfigError}
 * with a one-line message such as "kubeconfig /etc/x.kubeconfig:7:5: not valid YAML (bad indent)".
 */
export function loadKubeconfig(path: string, context?: string): KubeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KubeconfigError(`cannot read kubeconfig ${path}: ${(err as NodeJS.ErrnoException).code ?? 'read error'}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const bad = doc.errors[0];
  if (bad) {
    // Only the position and the error code: the library's message quotes the source.
    const { line, col } = lines.linePos(bad.pos[0]);
    throw new KubeconfigError(`kubeconfig ${path}:${line}:${col}: not valid YAML (${bad.code.toLowerCase().replace(/_/g, ' ')})`);
  }
  let config: unknown;
  try {
    config = doc.toJS({ maxAliasCount: 100 });
  } catch {
    throw new KubeconfigError(`kubeconfig ${path}: not valid YAML (aliases)`);
  }
  if (!isRecord(config))
    throw new KubeconfigError(`kubeconfig ${path}: not a kubeconfig (expected a mapping with clusters, contexts and users)`);
  useTokenFiles(config, dirname(path));

  const kc = new KubeConfig();
  try {
    // JSON is YAML, and valid: client-node's own parser has nothing left to quote.
    kc.loadFromString(JSON.stringify(config));
  } catch (err) {
    const m = err instanceof Error ? err.message : '';
    // client-node's structural checks say e.g. "users[0].name is missing"; pass on only that shape.
    throw new KubeconfigError(
      `kubeconfig ${path}: ${/^(clusters|contexts|users)\[\d+\](\.[\w-]+)* is missing$/.test(m) ? m : 'not a valid kubeconfig'}`,
    );
  }
  kc.makePathsAbsolute(dirname(path));
  if (context) {
    if (!kc.getContextObject(context)) throw new KubeconfigError(`kubeconfig ${path} has no context "${context}"`);
    kc.setCurrentContext(context);
  }
  const current = kc.getCurrentContext() ? kc.getContextObject(kc.getCurrentContext()) : null;
  if (!current) throw new KubeconfigError(`kubeconfig ${path}: current-context is not set or names no context in the file`);
  if (!kc.getCurrentCluster())
    throw new KubeconfigError(`kubeconfig ${path}: the current context names a cluster the file does not define`);
  if (current.user && !kc.getCurrentUser())
    throw new KubeconfigError(`kubeconfig ${path}: the current context names a user the file does not define`);
  kc.addAuthenticator(tokenFileAuthenticator());
  return kc;
}
