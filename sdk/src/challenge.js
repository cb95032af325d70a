/**
 * The challenge client's pure parts (/work/coord/challenge-protocol.md): reading the
 * issued challenge (v2 steps + light; v1, order only, still accepted), the light schedule
 * and the §5 window events.
 * @module challenge
 */
import { DEFAULT_TOLERANCE } from './quality.js';

/** v1 servers issue only the order: fall back to these ovals (frame-relative). */
const V1_OVALS = { far: { cx: 0.5, cy: 0.5, h: 0.45 }, near: { cx: 0.5, cy: 0.5, h: 0.8 } };

/**
 * @typedef {{role: 'far' | 'near', oval: import('./quality.js').Oval, hold_ms: number}} Step
 * @typedef {{color: string, ms: number}} LightColor
 * @typedef {{id: string, nonce: string, steps: Step[], tolerance: import('./quality.js').OvalTolerance, stepTimeoutMs: number, light: {colors: LightColor[], settle: number} | null, expiresAtMs: number | null}} Challenge
 */

const COLOR = /^#[0-9a-fA-F]{6}$/;

/**
 * Validates and normalises `challenge` from `POST /api/v1/challenge`.
 * @param {any} c
 * @returns {Challenge}
 */
export function readChallenge(c) {
  if (!c || typeof c.id !== 'string' || typeof c.nonce !== 'string') throw new Error('challenge lacks id/nonce');
  /** @type {Step[]} */
  let steps;
  if (Array.isArray(c.steps) && c.steps.length) {
    steps = c.steps.map((s) => {
      if (!s || (s.role !== 'far' && s.role !== 'near') || !s.oval) throw new Error('bad challenge step');
      const { cx, cy, h } = s.oval;
      if (![cx, cy, h].every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 1.5)) {
        throw new Error('bad challenge oval');
      }
      return { role: s.role, oval: { cx, cy, h }, hold_ms: clampInt(s.hold_ms, 0, 5000, 500) };
    });
  } else if (Array.isArray(c.order)) {
    steps = c.order.map((role) => {
      if (role !== 'far' && role !== 'near') throw new Error('bad challenge order');
      return { role, oval: V1_OVALS[role], hold_ms: 400 };
    });
  } else {
    throw new Error('challenge has neither steps nor order');
  }
  const tol = c.oval_tolerance;
  const tolerance =
    tol && [tol.center, tol.size_min, tol.size_max].every((v) => typeof v === 'number' && v > 0)
      ? { center: tol.center, size_min: tol.size_min, size_max: tol.size_max }
      : { ...DEFAULT_TOLERANCE };
  let light = null;
  if (c.light && Array.isArray(c.light.colors) && c.light.colors.length) {
    const colors = c.light.colors.map((x) => {
      if (!x || typeof x.color !== 'string' || !COLOR.test(x.color)) throw new Error('bad light colour');
      return { color: x.color.toLowerCase(), ms: clampInt(x.ms, 100, 3000, 500) };
    });
    const settle = typeof c.light.settle === 'number' && c.light.settle >= 0 && c.light.settle < 0.95 ? c.light.settle : 0.5;
    light = { colors, settle };
  }
  return {
    id: c.id,
    nonce: c.nonce,
    steps,
    tolerance,
    stepTimeoutMs: clampInt(c.step_timeout_ms, 1000, 60000, 8000),
    light,
    expiresAtMs: typeof c.expires_at_ms === 'number' ? c.expires_at_ms : null,
  };
}

/** @param {unknown} v @param {number} lo @param {number} hi @param {number} dflt */
function clampInt(v, lo, hi, dflt) {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : dflt;
}

/**
 * Colour k's interval and the window in which its one frame must be taken (§3.3), relative
 * to light_start_t: [start + settle·ms, start + ms).
 * @param {LightColor[]} colors @param {number} settle
 */
export function lightSchedule(colors, settle) {
  let start = 0;
  return colors.map((c, index) => {
    const s = start;
    start += c.ms;
    return { index, color: c.color, start: s, end: s + c.ms, windowStart: s + settle * c.ms };
  });
}

/**
 * `faceproof:challenge` window event (§5).
 * @param {Record<string, unknown>} detail
 */
export function emitChallengeEvent(detail) {
  const w = /** @type {any} */ (globalThis);
  if (typeof w.dispatchEvent === 'function' && typeof w.CustomEvent === 'function') {
    w.dispatchEvent(new w.CustomEvent('faceproof:challenge', { detail }));
  }
}
