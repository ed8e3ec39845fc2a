/** classifyKubeRequest: the verb and resource the worker's request counter labels each Kubernetes API request with. */
import { CoreV1Api } from '@kubernetes/client-node';
import { makeClient } from '../../src/kube/clients.js';
import { classifyKubeRequest } from '../../src/kube/requests.js';
import { unreachableKubeConfig } from '../helpers/unreachable.js';

const S = 'https://127.0.0.1:6443';

describe('classifyKubeRequest', () => {
  it.each([
    ['GET', `${S}/api/v1/nodes/edge-001`, 'get', 'nodes'],
    ['GET', `${S}/api/v1/nodes?limit=500`, 'list', 'nodes'],
    ['GET', `${S}/api/v1/nodes?fieldSelector=metadata.name%3Dedge-001&watch=true`, 'watch', 'nodes'],
    ['GET', '/api/v1/namespaces/kube-upgrade/pods?watch=true', 'watch', 'pods'],
    ['GET', `${S}/api/v1/watch/nodes`, 'watch', 'nodes'],
    ['PATCH', `${S}/api/v1/nodes/edge-001`, 'patch', 'nodes'],
    ['PATCH', `${S}/api/v1/nodes/edge-001/status`, 'patch', 'nodes/status'],
    ['POST', `${S}/api/v1/namespaces/default/pods/web-1/eviction`, 'create', 'pods/eviction'],
    ['GET', `${S}/api/v1/namespaces/kube-upgrade/pods/up-1/log?tailLines=20`, 'get', 'pods/log'],
    ['POST', `${S}/api/v1/namespaces/default/events`, 'create', 'events'],
    ['POST', `${S}/api/v1/namespaces/kube-upgrade/pods`, 'create', 'pods'],
    ['GET', `${S}/api/v1/namespaces/kube-upgrade/pods/up-1`, 'get', 'pods'],
    ['DELETE', `${S}/api/v1/namespaces/kube-upgrade/pods/up-1`, 'delete', 'pods'],
    ['DELETE', `${S}/api/v1/namespaces/kube-upgrade/events?labelSelector=a%3Db`, 'deletecollection', 'events'],
    ['GET', `${S}/api/v1/pods?limit=1000`, 'list', 'pods'],
    ['GET', `${S}/api/v1/namespaces/kube-upgrade`, 'get', 'namespaces'],
    ['GET', `${S}/api/v1/namespaces`, 'list', 'namespaces'],
    ['PUT', `${S}/api/v1/namespaces/kube-upgrade/finalize`, 'update', 'namespaces/finalize'],
    ['POST', `${S}/api/v1/namespaces`, 'create', 'namespaces'],
    ['GET', `${S}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-001`, 'get', 'leases'],
    ['GET', `${S}/apis/policy/v1/poddisruptionbudgets?limit=500`, 'list', 'poddisruptionbudgets'],
    ['PUT', `${S}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-001`, 'update', 'leases'],
    ['GET', `${S}/version`, 'get', 'version'],
    ['GET', '/readyz', 'get', 'readyz'],
  ])('%s %s is %s %s', (method, url, verb, resource) => {
    expect(classifyKubeRequest(method, url)).toEqual({ verb, resource });
  });
});

describe('makeClient with a counter', () => {
  it('counts each request by method and URL before it is sent (also when it then fails)', async () => {
    const kc = await unreachableKubeConfig();
    const seen: string[] = [];
    const core = makeClient(kc, CoreV1Api, {
      count: (method, url) => {
        const { verb, resource } = classifyKubeRequest(method, url);
        seen.push(`${verb} ${resource}`);
      },
    });
    await core.readNode({ name: 'edge-001' }).catch(() => undefined);
    await core.patchNode({ name: 'edge-001', body: {} }).catch(() => undefined);
    expect(seen).toEqual(['get nodes', 'patch nodes']);
  });
});
