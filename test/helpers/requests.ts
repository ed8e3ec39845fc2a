/**
 * Request parts shared by tests. Most tests are about something other than the health gate, and
 * its default (every check must hold 30 s after each batch) would only make them slower.
 */
import type { HealthGate } from '../../src/planning/types.js';

/** No health gate (`gate.stableFor` 0). */
export const NO_GATE: HealthGate = { stableFor: 0 };
