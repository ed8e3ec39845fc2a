/**
 * The activities' error policy (src/activities/kube.ts): which API failures are transient, which
 * are conflicts and which are permanent, and the one-line messages operators read.
 */
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../src/planning/errors.js';
import { makeClient } from '../../src/kube/clients.js';
import { classifyKubeError, outageMessage } from '../../src/kube/errors.js';
import { ApiOutage, activityErrorMessage, withApiRetry } from '../../src/activities/kube.js';
import { unreachableKubeConfig } from '../helpers/unreachable.js';

const api = (code: number, message = 'boom') => new ApiException(code, 'x', JSON.stringify({ kind: 'Status', message }), {});
// undici's shape: TypeError('fetch failed') with the socket error as its cause.
const net = (code: string) => new TypeError('fetch failed', { cause: Object.assign(new Error(`${code} 127.0.0.1:6443`), { code }) });
const timeout = () => new DOMException('The operation was aborted due to timeout', 'TimeoutError');

describe('classifyKubeError', () => {
  it.each([
    ['connection refused', net('ECONNREFUSED'), 'transient', true, 'connection refused'],
    ['connection reset', net('ECONNRESET'), 'transient', true, 'connection reset'],
    ['socket closed by the server (undici)', net('UND_ERR_SOCKET'), 'transient', true, 'connection closed by the other side'],
    ['connect timeout (undici)', net('UND_ERR_CONNECT_TIMEOUT'), 'transient', true, 'connect timed out'],
    ['host unreachable', net('EHOSTUNREACH'), 'transient', true, 'host unreachable'],
    ['our request timeout', timeout(), 'transient', true, 'no answer within 15 s'],
    ['request timeout as a cause', new TypeError('fetch failed', { cause: timeout() }), 'transient', true, 'no answer within 15 s'],
    [
      '429 from API priority and fairness',
      api(429, 'Too many requests, please try again later.'),
      'transient',
      false,
      '429 Too Many Requests (API priority and fairness): Too many requests, please try again later.',
    ],
    ['500', api(500, 'etcdserver: leader changed'), 'transient', false, '500 Internal Server Error: etcdserver: leader changed'],
    ['502', api(502), 'transient', false, '502 Bad Gateway: boom'],
    [
      '503 while the API server starts',
      api(503, 'apiserver not ready'),
      'transient',
      false,
      '503 Service Unavailable: apiserver not ready',
    ],
    ['504', api(504), 'transient', false, '504 Gateway Timeout: boom'],
    ['410 watch expired', api(410, 'too old resource version'), 'transient', false, '410 Gone (watch expired): too old resource version'],
    ['409 conflict', api(409, 'the object has been modified'), 'conflict', false, '409: the object has been modified'],
    ['403 forbidden', api(403, 'nodes "x" is forbidden'), 'permanent', false, '403: nodes "x" is forbidden'],
    ['422 invalid', api(422, 'invalid'), 'permanent', false, '422: invalid'],
    ['401 unauthorized', api(401, 'Unauthorized'), 'permanent', false, '401: Unauthorized'],
    [
      'TLS: wrong CA',
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      }),
      'permanent',
      true,
      'TLS failure (DEPTH_ZERO_SELF_SIGNED_CERT): self-signed certificate',
    ],
    [
      'a programming error',
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      'permanent',
      false,
      "Cannot read properties of undefined (reading 'x')",
    ],
  ])('%s', (_what, err, kind, unreachable, reason) => {
    expect(classifyKubeError(err)).toEqual({ kind, unreachable, reason });
  });

  it('classifies what client-node really throws for a closed port as connection refused', async () => {
    const kc = await unreachableKubeConfig();
    const err = await makeClient(kc, CoreV1Api)
      .listNode()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(classifyKubeError(err)).toEqual({ kind: 'transient', unreachable: true, reason: 'connection refused' });
    const server = kc.getCurrentCluster()!.server;
    expect(activityErrorMessage(err, server)).toBe(`API server ${server} unreachable: connection refused`);
  });
});

describe('messages', () => {
  it('an outage names the server, how long and why', () => {
    expect(outageMessage('https://127.0.0.1:6443', 75_400, classifyKubeError(net('ECONNREFUSED')))).toBe(
      'API server https://127.0.0.1:6443 unreachable for 75 s: connection refused',
    );
    expect(outageMessage('https://k:6443', 3_000, classifyKubeError(api(503, 'not ready')))).toBe(
      'API server https://k:6443 failing for 3 s: 503 Service Unavailable: not ready',
    );
  });

  it.each([
    ['fetch failed', net('ECONNRESET'), 'API server https://k:6443 unreachable: connection reset'],
    ['a multi-line ApiException', api(500, 'etcd'), 'API server https://k:6443 answered 500 Internal Server Error: etcd'],
    ['an ApplicationFailure', ApplicationFailure.nonRetryable('drain of x blocked', 'NodeStepFailed'), 'drain of x blocked'],
  ])('activityErrorMessage: %s', (_what, err, expected) => {
    expect(activityErrorMessage(err, 'https://k:6443')).toBe(expected);
  });

  it('ApiOutage tracks an outage until the next success, and rethrows permanent errors', () => {
    const o = new ApiOutage('https://k:6443');
    expect(o.active).toBe(false);
    o.failed(net('ECONNREFUSED'));
    expect(o.active).toBe(true);
    expect(o.describe()).toBe('API server https://k:6443 unreachable for 0 s: connection refused');
    expect(() => o.failed(api(403))).toThrow(ApiException);
    o.ok();
    expect(o.describe()).toBeUndefined();
  });
});

describe('withApiRetry', () => {
  it('re-runs the operation after 409 conflicts and transient errors', async () => {
    const errors = [api(409), net('ECONNRESET'), api(503)];
    let calls = 0;
    const result = await withApiRetry(
      { server: 'https://k' },
      async () => {
        calls++;
        const e = errors.shift();
        if (e) throw e;
        return 'done';
      },
      { forMs: 10_000, initialDelayMs: 10 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(4);
  });

  it('gives up after forMs with a retryable failure that says what was unreachable', async () => {
    let calls = 0;
    const err = await withApiRetry(
      { server: 'https://127.0.0.1:6443' },
      async () => {
        calls++;
        throw net('ECONNREFUSED');
      },
      { forMs: 300, initialDelayMs: 20 },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(ErrorType.KubeApiUnavailable);
    expect((err as ApplicationFailure).nonRetryable).toBe(false);
    expect((err as ApplicationFailure).message).toMatch(
      /^API server https:\/\/127\.0\.0\.1:6443 unreachable for \d+ s: connection refused$/,
    );
    expect(calls).toBeGreaterThan(2);
  });

  it('rethrows a permanent error at once', async () => {
    let calls = 0;
    await expect(
      withApiRetry(
        { server: 'https://k' },
        async () => {
          calls++;
          throw api(422, 'invalid');
        },
        { forMs: 10_000 },
      ),
    ).rejects.toBeInstanceOf(ApiException);
    expect(calls).toBe(1);
  });
});
