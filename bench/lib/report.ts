/** The benchmarks' printed figures: durations, percentiles and a two-column report. */
import { pct } from './stats.js';

/** `ms` as seconds with two decimals ("1.25 s"), or '—' when it is not a number. */
export const sec = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—');

/** The median and 95th percentile of `v` (ms) as "p50 / p95", or '—' when there are none. */
export const p50p95 = (v: number[]) => (v.length ? `${sec(pct(v, 50))} / ${sec(pct(v, 95))}` : '—');

/** A report of lines: labelled rows (the label padded to 50 characters), three-column steps and free lines. */
export class Report {
  readonly lines: string[] = [];

  /** Free lines, as they are. */
  line(...lines: string[]): void {
    this.lines.push(...lines);
  }

  /** "  label  value", the label padded to 50 characters. */
  row(label: string, value: string): void {
    this.lines.push(`  ${label.padEnd(50)} ${value}`);
  }

  /** A row with two values side by side, the first padded to 24 characters (trailing spaces trimmed). */
  step(label: string, first: string, second: string): void {
    this.lines.push(`  ${label.padEnd(50)} ${first.padEnd(24)} ${second}`.trimEnd());
  }

  /** The report as one text. */
  toString(): string {
    return this.lines.join('\n');
  }
}

/** The seconds since it was made, for log lines ("[12.3 s] line") and for when things happened. */
export class Clock {
  readonly t0 = Date.now();

  /** Seconds since the clock started, with one decimal: "12.3 s". */
  readonly elapsed = (): string => `${((Date.now() - this.t0) / 1000).toFixed(1)} s`;

  /** Prints "[12.3 s] line". */
  readonly log = (line: string): void => console.log(`[${this.elapsed()}] ${line}`);
}
