/**
 * Reserved ports (src/local/ports.ts): outside the kernel's ephemeral range, never the same one for
 * two live processes, and taken over once the process holding one is gone.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ephemeralRange, releasePort, reservableRange, reservePort } from '../../src/local/ports.js';

const portsModule = fileURLToPath(new URL('../../src/local/ports.ts', import.meta.url));

/** Starts another Node process that reserves a port in `range`, prints it and waits to be killed. */
async function holder(range: [number, number]): Promise<{ port: number; kill(): Promise<void> }> {
  const reserve = `const m = await import(${JSON.stringify(portsModule)}); console.log(await m.reservePort(${JSON.stringify(range)}));`;
  const code = `${reserve} setInterval(() => {}, 1e6);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`holder exited with ${c}`)));
  });
  return {
    port,
    kill: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

test('the range read from /proc parses, and reserved ports lie below it (or above it when there is no room below)', () => {
  expect(ephemeralRange('32768\t60999\n')).toEqual([32768, 60999]);
  expect(ephemeralRange('garbage')).toEqual([32768, 60999]);
  expect(reservableRange([32768, 60999])).toEqual([10000, 32767]);
  expect(reservableRange([1024, 60999])).toEqual([61000, 65535]);
  expect(() => reservableRange([1024, 65000])).toThrow(/leaves fewer than 1000 ports/);
});

test('reserved ports are outside the ephemeral range and differ while held', async () => {
  const [lo, hi] = ephemeralRange();
  const ports = await Promise.all(Array.from({ length: 20 }, () => reservePort()));
  try {
    for (const p of ports) expect(p < lo || p > hi).toBe(true);
    expect(new Set(ports).size).toBe(ports.length);
  } finally {
    for (const p of ports) releasePort(p);
  }
});

test('a port another live process holds is never handed out; once that process is killed, it is taken over', async () => {
  const [from] = reservableRange();
  const first = await reservePort([from, from + 200]);
  releasePort(first);
  const range: [number, number] = [first, first];
  const other = await holder(range);
  expect(other.port).toBe(first);
  await expect(reservePort(range)).rejects.toThrow(/no free loopback port/);
  await other.kill();
  const mine = await reservePort(range);
  expect(mine).toBe(first);
  releasePort(mine);
});
