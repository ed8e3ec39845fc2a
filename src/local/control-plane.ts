/**
 * A real, local Kubernetes control plane for tests, benchmarks and the demo: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler on free loopback ports, with a token-authenticated
 * admin kubeconfig. There are no kubelets: src/simulator plays the nodes.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releasePort, reservePort } from './ports.js';
import { startProcess, stopProcess, waitUntil, type Managed } from './processes.js';

/** Where the binaries are and how to run them. */
export interface ControlPlaneOptions {
  /** Directory with kube-apiserver, kube-controller-manager, kube-scheduler (scripts/ensure-k8s.sh). */
  k8sBinDir: string;
  /** Path of the etcd binary (scripts/ensure-etcd.sh). */
  etcdBinary: string;
  /** Working directory for data, keys, logs and the kubeconfig; a fresh temp dir by default. */
  dir?: string;
  /** How long kube-controller-manager waits for a silent node before marking it NotReady (seconds). */
  nodeMonitorGracePeriodSeconds?: number;
  /** Keep `dir` after stop (for debugging). */
  keepDir?: boolean;
  /**
   * Cluster-wide Pod Security admission level for namespaces without their own label (the API
   * server's default is 'privileged'), as many clusters configure it.
   */
  podSecurityDefault?: 'baseline' | 'restricted';
  /**
   * Further kube-apiserver flags, appended after the defaults (a later flag wins), e.g.
   * `--runtime-config=networking.k8s.io/v1beta1=true` to serve a deprecated API version. None by default.
   */
  extraApiServerArgs?: readonly string[];
}

/** A running control plane. Stop it with `stop()`. */
export class LocalControlPlane {
  private constructor(
    readonly dir: string,
    readonly server: string,
    readonly kubeconfigPath: string,
    /** Bearer token of the `admin` user (group system:masters). */
    readonly adminToken: string,
    private readonly processes: Managed[],
    private readonly keepDir: boolean,
    private readonly ports: readonly number[] = [],
  ) {}

  /**
   * A control plane that another process or test file started and will stop: this object reads and
   * writes through it, and its `stop()` leaves it running.
   */
  static adopt(running: { dir: string; server: string; kubeconfigPath: string; adminToken: string }): LocalControlPlane {
    return new LocalControlPlane(running.dir, running.server, running.kubeconfigPath, running.adminToken, [], true);
  }

  /** PIDs of the processes this object started (etcd, kube-apiserver, controller manager, scheduler). */
  get pids(): number[] {
    return this.processes.flatMap((p) => (p.child.pid === undefined ? [] : [p.child.pid]));
  }

  /** Starts etcd, the API server, the controller manager and the scheduler, and waits until they serve. */
  static async start(opts: ControlPlaneOptions): Promise<LocalControlPlane> {
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'edge-upgrade-cp-'));
    mkdirSync(join(dir, 'pki'), { recursive: true });
    const bin = (name: string) => join(opts.k8sBinDir, name);
    checkBinaries(opts, bin);

    const ports = [await reservePort(), await reservePort(), await reservePort()];
    const [etcdPort, peerPort, apiPort] = ports as [number, number, number];
    const creds = writeCredentials(dir);
    const processes: Managed[] = [];
    try {
      const etcdUrl = await startEtcd(processes, dir, opts.etcdBinary, etcdPort, peerPort);
      const server = await startApiServer(processes, dir, bin('kube-apiserver'), { etcdUrl, apiPort, creds, opts });
      const kubeconfigPath = writeKubeconfig(dir, server, creds.token);
      const controllerManager = startControllers(processes, dir, bin, { kubeconfigPath, creds, opts });

      const cp = new LocalControlPlane(dir, server, kubeconfigPath, creds.token, processes, opts.keepDir ?? false, ports);
      // Admission refuses pods in a namespace until its `default` ServiceAccount exists (tokens controller).
      const saUrl = `${server}/api/v1/namespaces/default/serviceaccounts/default`;
      await waitUntil('the default ServiceAccount', () => httpsOk(saUrl, creds.token), { timeoutMs: 60_000, process: controllerManager });
      return cp;
    } catch (err) {
      for (const p of [...processes].reverse()) await stopProcess(p);
      for (const port of ports) releasePort(port);
      throw err;
    }
  }

  /** True when the API server answers /readyz (within 5 s). */
  ready(): Promise<boolean> {
    return httpsOk(`${this.server}/readyz`, this.adminToken);
  }

  /** A KubeConfig for @kubernetes/client-node, authenticated as the admin user. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** Logs of one component, e.g. 'kube-controller-manager', for debugging a failed test. */
  logFile(component: string): string {
    return join(this.dir, `${component}.log`);
  }

  /** Stops every process this control plane started (by PID) and removes its directory. */
  async stop(): Promise<void> {
    for (const p of [...this.processes].reverse()) await stopProcess(p);
    for (const port of this.ports) releasePort(port);
    if (!this.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Throws if a binary the control plane needs is not where `opts` says, naming the script that fetches it. */
function checkBinaries(opts: ControlPlaneOptions, bin: (name: string) => string): void {
  for (const b of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
    if (!existsSync(bin(b))) throw new Error(`${bin(b)} is missing: run scripts/ensure-k8s.sh`);
  }
  if (!existsSync(opts.etcdBinary)) throw new Error(`${opts.etcdBinary} is missing: run scripts/ensure-etcd.sh`);
}

/** Files under `dir/pki` that authenticate to and sign for the API server. */
interface Credentials {
  /** Service-account public key (PEM) path. */
  saPub: string;
  /** Service-account private key (PEM) path. */
  saKey: string;
  /** Bearer token of the `admin` user. */
  token: string;
  /** Static token file path (kube-apiserver --token-auth-file). */
  tokens: string;
}

/** Writes a fresh service-account key pair and an admin token file under `dir/pki`. */
function writeCredentials(dir: string): Credentials {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const saPub = join(dir, 'pki', 'sa.pub');
  const saKey = join(dir, 'pki', 'sa.key');
  writeFileSync(saPub, publicKey);
  writeFileSync(saKey, privateKey, { mode: 0o600 });
  const token = randomBytes(24).toString('hex');
  const tokens = join(dir, 'pki', 'tokens.csv');
  writeFileSync(tokens, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
  return { saPub, saKey, token, tokens };
}

/** Starts a single-member etcd (added to `processes`), waits until it is healthy, and returns its client URL. */
async function startEtcd(processes: Managed[], dir: string, binary: string, port: number, peerPort: number): Promise<string> {
  const etcdUrl = `http://127.0.0.1:${port}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = startProcess(
    'etcd',
    binary,
    [
      '--name=node0',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=node0=${peerUrl}`,
      '--log-level=warn',
      // Test data is disposable; skipping fsync makes the API server several times faster here.
      '--unsafe-no-fsync',
    ],
    join(dir, 'etcd.log'),
  );
  processes.push(etcd);
  await waitUntil('etcd /health', async () => (await fetch(`${etcdUrl}/health`)).ok, { timeoutMs: 30_000, process: etcd });
  return etcdUrl;
}

/** Starts kube-apiserver (added to `processes`), waits until /readyz answers, and returns its URL. */
async function startApiServer(
  processes: Managed[],
  dir: string,
  binary: string,
  cfg: { etcdUrl: string; apiPort: number; creds: Credentials; opts: ControlPlaneOptions },
): Promise<string> {
  const { etcdUrl, apiPort, creds, opts } = cfg;
  const admission: string[] = [];
  if (opts.podSecurityDefault) {
    const file = join(dir, 'admission.yaml');
    writeFileSync(file, podSecurityAdmission(opts.podSecurityDefault));
    admission.push(`--admission-control-config-file=${file}`);
  }
  const apiserver = startProcess(
    'kube-apiserver',
    binary,
    [
      ...admission,
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'pki')}`,
      `--token-auth-file=${creds.tokens}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${creds.saPub}`,
      `--service-account-signing-key-file=${creds.saKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      // Simulated kubelets (pod logs) listen on 127.0.0.1; node names do not resolve.
      '--kubelet-preferred-address-types=InternalIP',
      '--profiling=false',
      '--v=0',
      ...(opts.extraApiServerArgs ?? []),
    ],
    join(dir, 'kube-apiserver.log'),
  );
  processes.push(apiserver);
  const server = `https://127.0.0.1:${apiPort}`;
  await waitUntil('kube-apiserver /readyz', () => httpsOk(`${server}/readyz`, creds.token), { timeoutMs: 90_000, process: apiserver });
  return server;
}

/** Writes the admin kubeconfig to `dir/kubeconfig` and returns its path. */
function writeKubeconfig(dir: string, server: string, token: string): string {
  // The API server wrote a self-signed serving cert (with its CA appended) for 127.0.0.1; trust exactly that.
  const ca = readFileSync(join(dir, 'pki', 'apiserver.crt'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml(server, ca.toString('base64'), token), { mode: 0o600 });
  return kubeconfigPath;
}

/**
 * The controller manager's controllers: the defaults without those for what this test bed never has (volumes,
 * Services and their endpoints, certificate requests, quotas, autoscalers, CronJobs, ReplicationControllers,
 * TTLs, resource claims, storage versions). What an upgrade meets stays: node lifecycle and taint eviction,
 * disruption (PDB status), the workload controllers, garbage collection, namespaces, ServiceAccounts and their
 * tokens, the root CA publisher, cluster role aggregation. Each disabled one polls or resyncs even when idle.
 */
const CONTROLLERS = [
  '*',
  ...[
    'certificatesigningrequest-approving',
    'certificatesigningrequest-cleaner',
    'certificatesigningrequest-signing',
    'cronjob',
    'device-taint-eviction',
    'endpoints',
    'endpointslice',
    'endpointslice-mirroring',
    'ephemeral-volume',
    'horizontal-pod-autoscaler',
    'kube-apiserver-serving-clustertrustbundle-publisher',
    'legacy-serviceaccount-token-cleaner',
    'persistentvolume-attach-detach',
    'persistentvolume-binder',
    'persistentvolume-expander',
    'persistentvolume-protection',
    'persistentvolumeclaim-protection',
    'podcertificaterequest-cleaner',
    'replicationcontroller',
    'resourceclaim',
    'resourcequota',
    'service-cidr',
    'storage-version-migrator',
    'storageversion-garbage-collector',
    'ttl',
    'ttl-after-finished',
    'validatingadmissionpolicy-status',
    'volumeattributesclass-protection',
  ].map((c) => `-${c}-controller`),
].join(',');

/**
 * Starts kube-controller-manager and kube-scheduler (added to `processes`, in that order) without
 * waiting for them, and returns the controller manager.
 */
function startControllers(
  processes: Managed[],
  dir: string,
  bin: (name: string) => string,
  cfg: { kubeconfigPath: string; creds: Credentials; opts: ControlPlaneOptions },
): Managed {
  const common = [`--kubeconfig=${cfg.kubeconfigPath}`, '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0', '--v=0'];
  const grace = cfg.opts.nodeMonitorGracePeriodSeconds ?? 40;
  const controllerManager = startProcess(
    'kube-controller-manager',
    bin('kube-controller-manager'),
    [
      ...common,
      `--service-account-private-key-file=${cfg.creds.saKey}`,
      `--root-ca-file=${join(dir, 'pki', 'apiserver.crt')}`,
      '--node-monitor-period=2s',
      `--node-monitor-grace-period=${grace}s`,
      '--use-service-account-credentials=true',
      `--controllers=${CONTROLLERS}`,
    ],
    join(dir, 'kube-controller-manager.log'),
  );
  processes.push(controllerManager);
  processes.push(startProcess('kube-scheduler', bin('kube-scheduler'), common, join(dir, 'kube-scheduler.log')));
  return controllerManager;
}

function podSecurityAdmission(level: string): string {
  return [
    'apiVersion: apiserver.config.k8s.io/v1',
    'kind: AdmissionConfiguration',
    'plugins:',
    '- name: PodSecurity',
    '  configuration:',
    '    apiVersion: pod-security.admission.config.k8s.io/v1',
    '    kind: PodSecurityConfiguration',
    `    defaults: { enforce: ${level}, enforce-version: latest }`,
    '    exemptions: { usernames: [], runtimeClasses: [], namespaces: [] }',
    '',
  ].join('\n');
}

function kubeconfigYaml(server: string, caData: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${caData}`,
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: local',
    '  context:',
    '    cluster: local',
    '    user: admin',
    'current-context: local',
    '',
  ].join('\n');
}

/** GET with a bearer token against the local API server; true on 2xx. TLS is not verified here (readiness only). */
function httpsOk(url: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { headers: { Authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 300);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
