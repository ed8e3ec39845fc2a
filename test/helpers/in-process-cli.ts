/**
 * The CLI in-process, through the `main()` that bin/edge-upgrade.js calls, with stdout and stderr
 * captured: quicker than spawning the bin, for tests of what a command prints and its exit code.
 */
import { Writable } from 'node:stream';
import { main } from '../../src/client.js';

/** What one in-process run printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(w, { text: () => chunks.join('') });
}

/** Runs `edge-upgrade ...args` in-process. */
export async function runInProcess(...args: string[]): Promise<CliRun> {
  const stdout = sink();
  const stderr = sink();
  const code = await main(['node', 'edge-upgrade', ...args], { stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
