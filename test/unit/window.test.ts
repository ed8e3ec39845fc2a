/** Maintenance-window math (src/planning/window.ts), its validation and how the summary shows a window pause. */
import { validateUpgradeRequest } from '../../src/planning/request.js';
import { summarize } from '../../src/planning/summary.js';
import type { MaintenanceWindow, Progress } from '../../src/planning/types.js';
import {
  closesAt,
  describeWindow,
  isInside,
  isoSeconds,
  isValidTimeZone,
  nextOpen,
  parseTimeOfDay,
  parseWindow,
} from '../../src/planning/window.js';

const w = (spec: string, days?: MaintenanceWindow['days']): MaintenanceWindow => {
  const [times, timezone] = spec.split(' ');
  const [start, end] = times!.split('-');
  return { start: start!, end: end!, ...(timezone ? { timezone } : {}), ...(days ? { days } : {}) };
};

// 2026-11-27 is a Friday, 2026-11-28 a Saturday, 2026-11-29 a Sunday.
// Europe/Berlin: CET (+1) in winter, CEST (+2) in summer; spring forward 2026-03-29 02:00 → 03:00,
// fall back 2026-10-25 03:00 → 02:00.
describe('window: isInside, nextOpen, closesAt', () => {
  test.each<[string, MaintenanceWindow, string, boolean, string, string | null]>([
    // name, window, now, inside, nextOpen, closesAt
    ['UTC default, before the start', w('02:00-05:00'), '2026-11-28T01:00:00Z', false, '2026-11-28T02:00:00Z', null],
    ['start is inclusive', w('02:00-05:00'), '2026-11-28T02:00:00Z', true, '2026-11-28T02:00:00Z', '2026-11-28T05:00:00Z'],
    ['one second before the end', w('02:00-05:00'), '2026-11-28T04:59:59Z', true, '2026-11-28T04:59:59Z', '2026-11-28T05:00:00Z'],
    ['end is exclusive: next day', w('02:00-05:00'), '2026-11-28T05:00:00Z', false, '2026-11-29T02:00:00Z', null],
    ['explicit UTC equals the default', w('02:00-05:00 UTC'), '2026-11-28T03:00:00Z', true, '2026-11-28T03:00:00Z', '2026-11-28T05:00:00Z'],
    ['midnight crossing: evening part', w('22:00-04:00'), '2026-11-28T23:00:00Z', true, '2026-11-28T23:00:00Z', '2026-11-29T04:00:00Z'],
    [
      'midnight crossing: morning part (opened yesterday)',
      w('22:00-04:00'),
      '2026-11-29T03:00:00Z',
      true,
      '2026-11-29T03:00:00Z',
      '2026-11-29T04:00:00Z',
    ],
    ['midnight crossing: after the end', w('22:00-04:00'), '2026-11-29T04:00:00Z', false, '2026-11-29T22:00:00Z', null],
    ['midnight crossing: just before the start', w('22:00-04:00'), '2026-11-28T21:59:59Z', false, '2026-11-28T22:00:00Z', null],
    [
      'end 00:00 closes at midnight, across the year',
      w('23:00-00:00'),
      '2026-12-31T23:30:00Z',
      true,
      '2026-12-31T23:30:00Z',
      '2027-01-01T00:00:00Z',
    ],
    [
      'days: the day the window starts (Sat 22:00 → Sun 04:00)',
      w('22:00-04:00', ['sat']),
      '2026-11-29T03:00:00Z',
      true,
      '2026-11-29T03:00:00Z',
      '2026-11-29T04:00:00Z',
    ],
    [
      'days: Sunday evening is not a Saturday window',
      w('22:00-04:00', ['sat']),
      '2026-11-29T22:30:00Z',
      false,
      '2026-12-05T22:00:00Z',
      null,
    ],
    [
      "days: Saturday morning belongs to Friday's (filtered) window",
      w('22:00-04:00', ['sat']),
      '2026-11-28T03:00:00Z',
      false,
      '2026-11-28T22:00:00Z',
      null,
    ],
    ['days: Friday waits for Saturday', w('02:00-05:00', ['sat', 'sun']), '2026-11-27T12:00:00Z', false, '2026-11-28T02:00:00Z', null],
    [
      'days: Saturday after the window waits for Sunday',
      w('02:00-05:00', ['sat', 'sun']),
      '2026-11-28T06:00:00Z',
      false,
      '2026-11-29T02:00:00Z',
      null,
    ],
    [
      'days: Sunday after the window waits a week less a day',
      w('02:00-05:00', ['sat', 'sun']),
      '2026-11-29T06:00:00Z',
      false,
      '2026-12-05T02:00:00Z',
      null,
    ],
    [
      'days: empty list means every day',
      w('02:00-05:00', []),
      '2026-11-27T03:00:00Z',
      true,
      '2026-11-27T03:00:00Z',
      '2026-11-27T05:00:00Z',
    ],
    ['Berlin winter (CET, +1)', w('02:00-05:00 Europe/Berlin'), '2026-11-28T00:30:00Z', false, '2026-11-28T01:00:00Z', null],
    ['Berlin winter: inside', w('02:00-05:00 Europe/Berlin'), '2026-11-28T03:59:00Z', true, '2026-11-28T03:59:00Z', '2026-11-28T04:00:00Z'],
    [
      'Berlin summer (CEST, +2)',
      w('02:00-05:00 Europe/Berlin'),
      '2026-07-04T00:00:00Z',
      true,
      '2026-07-04T00:00:00Z',
      '2026-07-04T03:00:00Z',
    ],
    [
      'Berlin spring forward: 01:00-05:00 lasts 3 hours',
      w('01:00-05:00 Europe/Berlin'),
      '2026-03-29T00:30:00Z',
      true,
      '2026-03-29T00:30:00Z',
      '2026-03-29T03:00:00Z',
    ],
    [
      'Berlin spring forward: 02:30 (skipped) opens at 03:30 CEST',
      w('02:30-04:00 Europe/Berlin'),
      '2026-03-29T00:00:00Z',
      false,
      '2026-03-29T01:30:00Z',
      null,
    ],
    [
      'Berlin spring forward: a window inside the skipped hour is empty that day',
      w('02:00-03:00 Europe/Berlin'),
      '2026-03-28T23:30:00Z',
      false,
      '2026-03-30T00:00:00Z',
      null,
    ],
    [
      'Berlin spring forward: the day before is still CET',
      w('02:00-03:00 Europe/Berlin'),
      '2026-03-27T23:30:00Z',
      false,
      '2026-03-28T01:00:00Z',
      null,
    ],
    [
      'Berlin fall back: 02:00-04:00 lasts 3 hours',
      w('02:00-04:00 Europe/Berlin'),
      '2026-10-25T02:30:00Z',
      true,
      '2026-10-25T02:30:00Z',
      '2026-10-25T03:00:00Z',
    ],
    [
      'Berlin fall back: the repeated 02:30 opens the first time',
      w('02:30-02:45 Europe/Berlin'),
      '2026-10-25T00:00:00Z',
      false,
      '2026-10-25T00:30:00Z',
      null,
    ],
    [
      'Berlin fall back: after the first 02:45, next day',
      w('02:30-02:45 Europe/Berlin'),
      '2026-10-25T00:50:00Z',
      false,
      '2026-10-26T01:30:00Z',
      null,
    ],
    [
      'Berlin midnight crossing into the fall-back night',
      w('22:00-04:00 Europe/Berlin', ['sat']),
      '2026-10-24T20:00:00Z',
      true,
      '2026-10-24T20:00:00Z',
      '2026-10-25T03:00:00Z',
    ],
    [
      'days use the local day: Sat 00:30 Berlin is Fri 23:30 UTC',
      w('00:00-02:00 Europe/Berlin', ['sat']),
      '2026-11-27T23:30:00Z',
      true,
      '2026-11-27T23:30:00Z',
      '2026-11-28T01:00:00Z',
    ],
    [
      'New York (EST, -5) evening window',
      w('22:00-04:00 America/New_York'),
      '2026-11-28T04:00:00Z',
      true,
      '2026-11-28T04:00:00Z',
      '2026-11-28T09:00:00Z',
    ],
    ['Kolkata (+05:30): half-hour offset', w('02:00-05:00 Asia/Kolkata'), '2026-11-28T00:00:00Z', false, '2026-11-28T20:30:00Z', null],
    ['seconds: before a short window', w('12:00:05-12:00:10'), '2026-11-28T12:00:04.500Z', false, '2026-11-28T12:00:05Z', null],
    [
      'seconds: inside a short window',
      w('12:00:05-12:00:10'),
      '2026-11-28T12:00:05Z',
      true,
      '2026-11-28T12:00:05Z',
      '2026-11-28T12:00:10Z',
    ],
    [
      'seconds: a short window crossing midnight',
      w('23:59:58-00:00:03'),
      '2026-11-29T00:00:01Z',
      true,
      '2026-11-29T00:00:01Z',
      '2026-11-29T00:00:03Z',
    ],
    [
      'start equal to end is a full day',
      w('00:00-00:00', ['sat']),
      '2026-11-28T13:00:00Z',
      true,
      '2026-11-28T13:00:00Z',
      '2026-11-29T00:00:00Z',
    ],
    [
      'touching openings merge: the whole weekend',
      w('00:00-00:00', ['sat', 'sun']),
      '2026-11-28T13:00:00Z',
      true,
      '2026-11-28T13:00:00Z',
      '2026-11-30T00:00:00Z',
    ],
  ])('%s', (_name, window, now, inside, open, closes) => {
    const t = new Date(now);
    expect(isInside(t, window)).toBe(inside);
    expect(nextOpen(t, window)?.toISOString()).toBe(new Date(open).toISOString());
    expect(closesAt(t, window)?.toISOString() ?? null).toBe(closes === null ? null : new Date(closes).toISOString());
  });

  test('nextOpen is strictly in the future when outside and stable until then', () => {
    const window = w('22:00-04:00 Europe/Berlin', ['sat']);
    const open = nextOpen(new Date('2026-11-23T10:00:00Z'), window)!;
    for (let t = Date.parse('2026-11-23T10:00:00Z'); t < open.getTime(); t += 3_600_000) {
      expect(isInside(new Date(t), window)).toBe(false);
      expect(nextOpen(new Date(t), window)).toEqual(open);
    }
    expect(isInside(open, window)).toBe(true);
    expect(isInside(new Date(open.getTime() - 1), window)).toBe(false);
  });

  test.each([
    ['02:00', 7200],
    ['23:59:59', 86_399],
    ['00:00:30', 30],
  ])('parseTimeOfDay(%s) = %i s', (s, sec) => expect(parseTimeOfDay(s)).toBe(sec));

  test.each([
    ['UTC', true],
    ['Europe/Berlin', true],
    ['America/Argentina/Buenos_Aires', true],
    ['Mars/Olympus_Mons', false],
    ['', false],
  ])('isValidTimeZone(%j) = %s', (tz, ok) => expect(isValidTimeZone(tz)).toBe(ok));

  test('isoSeconds and describeWindow', () => {
    expect(isoSeconds(new Date('2026-11-29T02:00:00.000Z'))).toBe('2026-11-29T02:00:00Z');
    expect(describeWindow(w('02:00-05:00 Europe/Berlin', ['sat', 'sun']))).toBe('sat,sun 02:00-05:00 Europe/Berlin');
    expect(describeWindow(w('02:00-05:00'))).toBe('02:00-05:00 UTC');
  });
});

describe('window: request validation', () => {
  const req = (window: unknown) => ({ clusterId: 'shop-17', targetVersion: 'v1.34.4', window });

  test.each([
    ['HH:MM', { start: '02:00', end: '05:00' }],
    ['HH:MM:SS', { start: '02:00:30', end: '02:01:15', timezone: 'UTC' }],
    ['days and an IANA zone', { days: ['sat', 'sun'], start: '22:00', end: '04:00', timezone: 'Europe/Berlin' }],
  ])('accepts %s', (_what, window) => {
    expect(validateUpgradeRequest(req(window)).request.window).toEqual(window);
  });

  test.each([
    [
      'an unknown time zone',
      { start: '02:00', end: '05:00', timezone: 'Mars/Olympus_Mons' },
      /window.timezone: unknown time zone 'Mars\/Olympus_Mons'/,
    ],
    ['hour 24', { start: '24:00', end: '05:00' }, /window.start: expected a time "HH:MM" or "HH:MM:SS"/],
    ['seconds 60', { start: '02:00', end: '05:00:60' }, /window.end: expected a time/],
    ['a missing end', { start: '02:00' }, /window.end/],
    ['an unknown day', { days: ['sunday'], start: '02:00', end: '05:00' }, /window.days.0/],
  ])('refuses %s before anything starts', (_what, window, message) => {
    expect(() => validateUpgradeRequest(req(window))).toThrow(message);
  });
});

describe('window: summary', () => {
  const base: Progress = {
    clusterId: 'shop-17',
    targetVersion: 'v1.34.4',
    phase: 'workers',
    state: 'paused',
    pause: { reason: 'window', since: '2026-11-28T05:00:00Z', autoCancelAt: null, opensAt: '2026-11-29T02:00:00Z' },
    precheck: { status: 'passed', items: [] },
    masters: { total: 0, upgraded: 0, current: null },
    workers: { total: 120, upgraded: 37, batch: { number: 6, size: 10, nodes: [] } },
    lastError: null,
    cancelReason: null,
  };

  test('a window pause names when the window opens', () => {
    expect(summarize(base)).toBe('Workers 37/120 · batch 6 (10 nodes) · paused: window (opens 2026-11-29T02:00:00Z)');
  });

  test('a user pause says user', () => {
    expect(summarize({ ...base, pause: { reason: 'user', since: base.pause!.since, autoCancelAt: '2026-12-13T05:00:00Z' } })).toMatch(
      /paused: user$/,
    );
  });
});

describe('parseWindow (the --window text) and describeWindow', () => {
  it.each<[string, MaintenanceWindow]>([
    ['02:00-05:00', { start: '02:00', end: '05:00' }],
    ['22:00-04:00 UTC', { start: '22:00', end: '04:00', timezone: 'UTC' }],
    ['sat,sun 02:00-05:00 Europe/Berlin', { days: ['sat', 'sun'], start: '02:00', end: '05:00', timezone: 'Europe/Berlin' }],
    ['  mon 01:30:15-01:45:00  ', { days: ['mon'], start: '01:30:15', end: '01:45:00' }],
    ['fri 23:00-23:00 America/New_York', { days: ['fri'], start: '23:00', end: '23:00', timezone: 'America/New_York' }],
  ])('%j parses, and describe → parse gives the same window back', (spec, want) => {
    const parsed = parseWindow(spec);
    expect(parsed).toEqual(want);
    const described = describeWindow(parsed!);
    // describeWindow always names the time zone, so an absent one comes back as the default 'UTC'.
    expect(parseWindow(described)).toEqual({ ...want, timezone: want.timezone ?? 'UTC' });
    expect(describeWindow(parseWindow(described)!)).toBe(described);
  });

  it.each(['', 'nope', '2:00-5:00', '02:00 05:00', 'Sat 02:00-05:00', '02:00-05:00 Europe/Berlin extra', '02:00-'])(
    '%j is not a window',
    (spec) => {
      expect(parseWindow(spec)).toBeNull();
    },
  );
});
