/**
 * A kubeconfig for an API server that refuses connections: a loopback port reserved for this test
 * process (src/local/ports.ts) and never listened on, so no other server can answer there.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { reservePort } from '../../src/local/ports.js';

export async function unreachableKubeConfig(): Promise<KubeConfig> {
  const port = await reservePort();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}
