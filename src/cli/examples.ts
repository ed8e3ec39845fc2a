/**
 * Examples shown at the end of each command's `--help` (and so in docs/cli.md, generated from the
 * help), keyed by the command's path, e.g. 'schedule create'.
 */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  precheck: ['edge-upgrade precheck --cluster shop-17 --to v1.34.4'],
  plan: ['edge-upgrade plan --cluster shop-17 --to v1.34.4 --max-percent 20', 'edge-upgrade --json plan --cluster shop-17 --to v1.34.4'],
  start: [
    'edge-upgrade start --cluster shop-17 --to v1.34.4',
    'edge-upgrade start --cluster shop-17 --to v1.34.4 --window "sat,sun 02:00-05:00 Europe/Berlin" --defer-offline',
    '# in a pipeline: 0 done, 3 paused, 4 partly done, 5 timed out',
    'edge-upgrade start --cluster shop-17 --to v1.34.4 --wait --timeout 6h',
  ],
  status: [
    'edge-upgrade status --cluster shop-17',
    'edge-upgrade status --cluster shop-17 --watch --wait-through-pause',
    'edge-upgrade --json status --cluster shop-17',
  ],
  list: ['edge-upgrade list', 'edge-upgrade list --state paused -o yaml'],
  pause: ['edge-upgrade pause --cluster shop-17 --reason "lunch rush"'],
  resume: ['edge-upgrade resume --cluster shop-17'],
  'retry-quarantined': ['edge-upgrade retry-quarantined --cluster shop-17'],
  cancel: ['edge-upgrade cancel --cluster shop-17 --wait'],
  schedule: ['edge-upgrade schedule list', 'edge-upgrade schedule create --help'],
  'schedule create': ['edge-upgrade schedule create --cluster shop-17 --to v1.34.4 --cron "0 2 * * 6" --timezone Europe/Berlin'],
  'schedule list': ['edge-upgrade schedule list'],
  'schedule delete': ['edge-upgrade schedule delete --cluster shop-17'],
  worker: ['EDGE_UPGRADE_CONFIG=/etc/edge-upgrade/config.yaml TEMPORAL_ADDRESS=temporal:7233 edge-upgrade worker'],
  completion: ['source <(edge-upgrade completion bash)    # in ~/.bashrc', 'edge-upgrade completion zsh > "${fpath[1]}/_edge-upgrade"'],
  demo: ['edge-upgrade demo --edge 20 --upgrade-seconds 1', 'edge-upgrade demo --stay'],
};

/** The examples of `path` as help text ('' when it has none). */
export function examplesText(path: string): string {
  const lines = EXAMPLES[path];
  return lines ? `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n` : '';
}
