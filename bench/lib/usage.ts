/** How a benchmark refuses a bad flag or setting. */

/** A bad flag or value: "<bench>: <message>" on stderr and exit 2, before anything is started. */
export function usageError(bench: string, message: string): never {
  console.error(`${bench}: ${message}`);
  process.exit(2);
}
