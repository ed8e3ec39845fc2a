/** Workloads the integration tests put on simulated nodes (the simulator "runs" any image). */
import type { V1Deployment } from '@kubernetes/client-node';

/**
 * A Deployment of `replicas` (default 1) pods labelled `app=<name>`, pinned to `node` when given.
 * Without `graceSeconds` the pods get Kubernetes' default grace period, 30 s.
 */
export function deployment(name: string, opts: { replicas?: number; node?: string; graceSeconds?: number } = {}): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: opts.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          ...(opts.node ? { nodeSelector: { 'kubernetes.io/hostname': opts.node } } : {}),
          ...(opts.graceSeconds !== undefined ? { terminationGracePeriodSeconds: opts.graceSeconds } : {}),
          containers: [{ name, image: `example.invalid/${name}:1` }],
        },
      },
    },
  };
}
