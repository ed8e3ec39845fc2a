/**
 * Pure maintenance-window math: is an instant inside a {@link MaintenanceWindow}, and when does the
 * window next open or close. No clock: callers pass `now` (the workflow passes its deterministic
 * workflow time). Time zones come from Intl (IANA names), which the workflow sandbox provides.
 *
 * Semantics:
 * - The window opens at `start` and closes at `end`, wall-clock time in `timezone` (default 'UTC').
 *   An `end` at or before `start` crosses midnight: 22:00-04:00 closes at 04:00 the next day, and
 *   `start` equal to `end` is a full 24 hours.
 * - `days` are the days the window OPENS on (in `timezone`): `sat 22:00-04:00` runs from Saturday
 *   22:00 to Sunday 04:00. Empty or absent means every day.
 * - DST: a wall-clock time in the spring-forward gap means the instant just after the gap (02:30
 *   → 03:30 in Europe/Berlin), one repeated by fall-back means its first occurrence (the
 *   'compatible' rule of Temporal/ECMAScript). A window lying wholly inside the skipped hour is
 *   empty that day. Windows are therefore an hour shorter or longer on DST change days.
 * - Openings that touch or overlap (e.g. every day 00:00-00:00) merge into one.
 */
import type { MaintenanceWindow } from './types.js';

/** Days of the week as used in {@link MaintenanceWindow.days}, indexed like `Date#getUTCDay()` (0 = Sunday). */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** A day of the week, e.g. 'sat'. */
export type Weekday = (typeof WEEKDAYS)[number];

/** One opening of a window: open from `opensAt` (inclusive) to `closesAt` (exclusive). */
export interface WindowOpening {
  opensAt: Date;
  closesAt: Date;
}

const DAY_MS = 86_400_000;
/** How many local days ahead to look for an opening; a window with any day opens within 8. */
const LOOKAHEAD_DAYS = 15;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone name this runtime knows, e.g. 'Europe/Berlin' or 'UTC'. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Seconds since midnight of "HH:MM" or "HH:MM:SS" (already validated by the request schema). */
export function parseTimeOfDay(hhmmss: string): number {
  const m = /^(\d\d):(\d\d)(?::(\d\d))?$/.exec(hhmmss);
  if (!m) throw new RangeError(`expected a time "HH:MM" or "HH:MM:SS", got '${hhmmss}'`);
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
}

/** Wall-clock fields of `instant` in `timeZone`, as a UTC timestamp (ms) of the same fields. */
function wallClock(instantMs: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instantMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

/** The zone's offset from UTC at `instant`, in ms (e.g. +3,600,000 for CET). */
function offsetMs(instantMs: number, timeZone: string): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  return wallClock(whole, timeZone) - whole;
}

/** The instant of wall-clock time `localMs` (fields encoded as UTC) in `timeZone`, with the 'compatible' disambiguation. */
function instantOf(localMs: number, timeZone: string): number {
  const before = offsetMs(localMs - DAY_MS, timeZone);
  const after = offsetMs(localMs + DAY_MS, timeZone);
  const candidates = [...new Set([before, after])].map((o) => localMs - o).filter((t) => offsetMs(t, timeZone) === localMs - t);
  // Repeated hour: the earlier instant. Skipped hour: shift forward by the gap (use the offset before it).
  return candidates.length > 0 ? Math.min(...candidates) : localMs - before;
}

/** The opening that contains `now` or else the next one, or null if the window never opens (cannot happen for a valid window). */
export function currentOrNextOpening(now: Date, w: MaintenanceWindow): WindowOpening | null {
  const tz = w.timezone ?? 'UTC';
  const startS = parseTimeOfDay(w.start);
  const endS = parseTimeOfDay(w.end);
  const days = w.days && w.days.length > 0 ? new Set<string>(w.days) : null;
  const nowMs = now.getTime();
  const local = new Date(wallClock(nowMs, tz));
  const y = local.getUTCFullYear();
  const mo = local.getUTCMonth();
  const d = local.getUTCDate();

  const openingOn = (k: number): WindowOpening | null => {
    const day = Date.UTC(y, mo, d + k);
    if (days && !days.has(WEEKDAYS[new Date(day).getUTCDay()]!)) return null;
    const opens = instantOf(day + startS * 1000, tz);
    const closes = instantOf(day + (endS > startS ? 0 : DAY_MS) + endS * 1000, tz);
    return closes > opens ? { opensAt: new Date(opens), closesAt: new Date(closes) } : null;
  };

  // Start a day back: yesterday's opening may cross midnight into today.
  for (let k = -1; k <= LOOKAHEAD_DAYS; k++) {
    const o = openingOn(k);
    if (!o || o.closesAt.getTime() <= nowMs) continue;
    // Merge openings that touch or overlap into one.
    for (let j = k + 1; j <= k + LOOKAHEAD_DAYS; j++) {
      const next = openingOn(j);
      if (!next) break;
      if (next.opensAt.getTime() > o.closesAt.getTime()) break;
      if (next.closesAt.getTime() > o.closesAt.getTime()) o.closesAt = next.closesAt;
    }
    return o;
  }
  return null;
}

/** True when the window is open at `now`. */
export function isInside(now: Date, w: MaintenanceWindow): boolean {
  const o = currentOrNextOpening(now, w);
  return o !== null && o.opensAt.getTime() <= now.getTime();
}

/** When the window is next open: `now` itself when inside, else the start of the next opening (null: never). */
export function nextOpen(now: Date, w: MaintenanceWindow): Date | null {
  const o = currentOrNextOpening(now, w);
  if (!o) return null;
  return o.opensAt.getTime() <= now.getTime() ? now : o.opensAt;
}

/** When the opening that contains `now` closes, or null when the window is closed at `now`. */
export function closesAt(now: Date, w: MaintenanceWindow): Date | null {
  const o = currentOrNextOpening(now, w);
  return o !== null && o.opensAt.getTime() <= now.getTime() ? o.closesAt : null;
}

/** ISO-8601 without milliseconds, e.g. '2026-11-29T02:00:00Z' (window edges fall on whole seconds). */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One-line description of a window, e.g. 'sat,sun 02:00-05:00 Europe/Berlin'; {@link parseWindow} reads it back. */
export function describeWindow(w: MaintenanceWindow): string {
  return `${w.days && w.days.length > 0 ? `${w.days.join(',')} ` : ''}${w.start}-${w.end} ${w.timezone ?? 'UTC'}`;
}

/** The text form of a window that {@link parseWindow} reads and {@link describeWindow} writes. */
export const WINDOW_SYNTAX = '[days] HH:MM[:SS]-HH:MM[:SS] [timezone]';

const WINDOW_PATTERN = /^(?:([a-z,]+)\s+)?(\d\d:\d\d(?::\d\d)?)-(\d\d:\d\d(?::\d\d)?)(?:\s+(\S+))?$/;

/**
 * Reads a window in {@link WINDOW_SYNTAX}, e.g. 'sat,sun 02:00-05:00 Europe/Berlin' (the CLI's
 * `--window`); null when the text has another shape. Only the shape is checked here: day names,
 * times and the time zone are validated with the rest of the request (validateUpgradeRequest).
 */
export function parseWindow(spec: string): MaintenanceWindow | null {
  const m = WINDOW_PATTERN.exec(spec.trim());
  if (!m) return null;
  const [, days, start, end, timezone] = m;
  return {
    start: start!,
    end: end!,
    ...(days ? { days: days.split(',') as MaintenanceWindow['days'] } : {}),
    ...(timezone ? { timezone } : {}),
  };
}
