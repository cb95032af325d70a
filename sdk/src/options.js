/**
 * Capture options (the reference's table 2): defaults and validation. A wrong value is a
 * programming error, so it throws a `TypeError`/`RangeError` from the constructor with the
 * option's name; options the SDK does not know (e.g. the reference demo's `appUI`) are
 * ignored, so an integrator's existing options object works unchanged.
 * @module options
 */
import { AsThreshold, Base64, Template, TransactionMode } from './enums.js';
import { resolveLocalization } from './localization.js';
import { DEFAULT_TEMPLATES, checkTemplate } from './templates.js';

export const DEFAULT_CAPTURE_TIMEOUT = 30000;
export const MAX_CAPTURE_TIMEOUT = 50000;

/** Default colours of the capture screen (`graphics.canvas`). */
export const DEFAULT_GRAPHICS = Object.freeze({
  label: '#ffffff',
  labelBackground: 'rgba(0, 0, 0, 0.72)',
  canvasBackground: '#ffffff',
  ovalBorderBackground: '#26d22a',
  ovalBorderErrorBackground: '#77bae7',
  tickerDefaultBackground: 'gray',
  tickerActiveBackground: '#3ef55c',
});

const BOOLEANS = /** @type {const} */ ({
  enableAs: true,
  showCaptureTraining: false,
  allowClose: true,
  assisted: false,
  returnQualityMetadata: true,
  allowCameraSelect: false,
  enableEyesStatusDetector: true,
  enableICAOChecks: false,
  enableBackgroundRemoval: false,
  skipSupportCheck: false,
  enableRetakeScreen: false,
});

const BG_COLOR = /^#[0-9a-fA-F]{6}$/;

/**
 * The reference's rule for `backgroundColor`: '#' then exactly six hex digits, any case.
 * @param {unknown} value
 * @returns {string} the value, unchanged
 */
export function validateBackgroundColor(value) {
  if (typeof value !== 'string' || !BG_COLOR.test(value)) {
    throw new TypeError(
      `faceproof: backgroundColor must be '#' followed by six hexadecimal digits (e.g. #12aBCd), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** @param {string} name @param {unknown} value @param {readonly unknown[]} allowed */
function oneOf(name, value, allowed) {
  if (!allowed.includes(value)) {
    throw new TypeError(`faceproof: ${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * A level name as the server reads it (docs/api-decisions.md, "Level names: one rule for every level field"): any case,
 * surrounding spaces ignored; sent in the envelope as the documented upper-case name.
 * Anything but a string is left as it is, for `oneOf` to refuse.
 * @param {unknown} value
 */
function levelName(value) {
  return typeof value === 'string' ? value.trim().toUpperCase() : value;
}

/** @param {unknown} value */
function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Colour options: `graphics.canvas.*` as in the reference's example, or the same keys flat
 * under `graphics`. Values are CSS colours (strings).
 * @param {unknown} graphics
 */
export function resolveGraphics(graphics) {
  if (graphics === undefined || graphics === null) return DEFAULT_GRAPHICS;
  if (!isPlainObject(graphics)) throw new TypeError('faceproof: graphics must be an object');
  const g = /** @type {Record<string, unknown>} */ (graphics);
  const canvas = isPlainObject(g.canvas) ? /** @type {Record<string, unknown>} */ (g.canvas) : {};
  /** @type {Record<string, string>} */
  const out = { ...DEFAULT_GRAPHICS };
  for (const key of Object.keys(DEFAULT_GRAPHICS)) {
    const value = canvas[key] ?? g[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || !value.trim()) {
      throw new TypeError(`faceproof: graphics.canvas.${key} must be a CSS colour string`);
    }
    out[key] = value.trim();
  }
  return Object.freeze(out);
}

/**
 * @typedef {object} ResolvedOptions
 * @property {boolean} enableAs
 * @property {string | null} asThreshold
 * @property {number} base64EncodingFlag
 * @property {Readonly<Record<string, string>>} localization
 * @property {{onImageQualityDetected?: Function, onInputDevicesDetected?: Function}} events
 * @property {{CAPTURE_DIALOG: string, PROGRESS_DIALOG: string}} htmlTemplates
 * @property {Readonly<Record<string, string>>} graphics
 * @property {boolean} showCaptureTraining
 * @property {boolean} allowClose
 * @property {boolean} assisted
 * @property {boolean} returnQualityMetadata
 * @property {boolean} allowCameraSelect
 * @property {number} captureTimeout
 * @property {boolean} enableEyesStatusDetector
 * @property {boolean} enableICAOChecks
 * @property {boolean} enableBackgroundRemoval
 * @property {string | null} backgroundColor
 * @property {string[]} requiredTemplates
 * @property {boolean} skipSupportCheck
 * @property {boolean} enableRetakeScreen
 * @property {{type: string}} transaction
 */

/**
 * Defaults and validation for the constructor's options.
 * @param {Record<string, unknown> | undefined} options
 * @returns {Readonly<ResolvedOptions>}
 */
export function resolveOptions(options = {}) {
  if (options === null || !isPlainObject(options)) {
    throw new TypeError('faceproof: FaceSDK options must be an object');
  }
  const o = /** @type {Record<string, any>} */ (options);
  /** @type {Record<string, any>} */
  const out = {};
  for (const [name, dflt] of Object.entries(BOOLEANS)) {
    const v = o[name];
    if (v === undefined || v === null) out[name] = dflt;
    else if (typeof v === 'boolean') out[name] = v;
    else throw new TypeError(`faceproof: ${name} must be a boolean, got ${JSON.stringify(v)}`);
  }
  out.asThreshold =
    o.asThreshold === undefined || o.asThreshold === null
      ? null
      : oneOf('asThreshold', levelName(o.asThreshold), Object.values(AsThreshold));
  out.base64EncodingFlag =
    o.base64EncodingFlag === undefined || o.base64EncodingFlag === null
      ? Base64.DEFAULT
      : oneOf('base64EncodingFlag', o.base64EncodingFlag, Object.values(Base64));
  out.localization = resolveLocalization(o.localization);

  const events = o.events ?? {};
  if (!isPlainObject(events)) throw new TypeError('faceproof: events must be an object');
  for (const name of ['onImageQualityDetected', 'onInputDevicesDetected']) {
    if (events[name] !== undefined && typeof events[name] !== 'function') {
      throw new TypeError(`faceproof: events.${name} must be a function`);
    }
  }
  out.events = Object.freeze({ ...events });

  const templates = o.htmlTemplates ?? {};
  if (!isPlainObject(templates)) throw new TypeError('faceproof: htmlTemplates must be an object');
  out.htmlTemplates = Object.freeze({
    CAPTURE_DIALOG:
      templates.CAPTURE_DIALOG == null
        ? DEFAULT_TEMPLATES.CAPTURE_DIALOG
        : checkTemplate('CAPTURE_DIALOG', templates.CAPTURE_DIALOG),
    PROGRESS_DIALOG:
      templates.PROGRESS_DIALOG == null
        ? DEFAULT_TEMPLATES.PROGRESS_DIALOG
        : checkTemplate('PROGRESS_DIALOG', templates.PROGRESS_DIALOG),
  });
  out.graphics = resolveGraphics(o.graphics);

  const timeout = o.captureTimeout ?? DEFAULT_CAPTURE_TIMEOUT;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout)) {
    throw new TypeError(`faceproof: captureTimeout must be an integer number of ms, got ${JSON.stringify(timeout)}`);
  }
  if (timeout <= 0 || timeout > MAX_CAPTURE_TIMEOUT) {
    throw new RangeError(`faceproof: captureTimeout must be in 1..${MAX_CAPTURE_TIMEOUT} ms, got ${timeout}`);
  }
  out.captureTimeout = timeout;

  out.backgroundColor =
    o.backgroundColor === undefined || o.backgroundColor === null
      ? null
      : validateBackgroundColor(o.backgroundColor);

  const req = o.requiredTemplates ?? [];
  if (!Array.isArray(req)) throw new TypeError('faceproof: requiredTemplates must be an array of Template');
  const allowed = Object.values(Template);
  out.requiredTemplates = [...new Set(req.map((v) => oneOf('requiredTemplates[]', v, allowed)))];

  const tx = o.transaction ?? { type: TransactionMode.CAPTURE };
  if (!isPlainObject(tx)) throw new TypeError('faceproof: transaction must be {type: TransactionMode}');
  out.transaction = Object.freeze({
    type: oneOf('transaction.type', tx.type ?? TransactionMode.CAPTURE, Object.values(TransactionMode)),
  });
  return Object.freeze(/** @type {ResolvedOptions} */ (out));
}

/**
 * The `options` block of the envelope (docs/envelope.md §2): the reference names, strict types.
 * @param {Readonly<ResolvedOptions>} o
 */
export function envelopeOptions(o) {
  return {
    enableAs: o.enableAs,
    asThreshold: o.asThreshold,
    requiredTemplates: [...o.requiredTemplates],
    enableICAOChecks: o.enableICAOChecks,
    enableBackgroundRemoval: o.enableBackgroundRemoval,
    backgroundColor: o.backgroundColor,
    returnQualityMetadata: o.returnQualityMetadata,
    enableEyesStatusDetector: o.enableEyesStatusDetector,
  };
}
