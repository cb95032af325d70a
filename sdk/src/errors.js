/**
 * Errors the SDK rejects with: the reference's codes and names (table "Error codes").
 * `err.code` is the number, `err.message` the name (e.g. "FEEDBACK_DIALOG_CLOSED", as the
 * reference's demo reads it), `err.getLocalizedString()` the user-facing text.
 * @module errors
 */
import { ENGLISH, t } from './localization.js';

/** Name → code, from the reference's error table (plus ERROR_MODEL_FAIL, reported as 500). */
export const ERROR_CODES = Object.freeze({
  ERROR_BROWSER_NOT_SUPPORTED: 100,
  ERROR_DEVICE_NOT_SUPPORTED: 100,
  ERROR_DEVICE_NOT_SUPPORTED_ANDROID: 100,
  ERROR_DEVICE_NOT_SUPPORTED_IOS: 100,
  ERROR_PLATFORM_NOT_SUPPORTED_ANDROID: 100,
  ERROR_PLATFORM_NOT_SUPPORTED_IOS: 100,
  ERROR_DEVICE_NOT_SUPPORTED_MEMORY: 100,
  ERROR_BROWSER_FEATURE_NOT_SUPPORTED: 100,
  ERROR_WEBRTC_NOT_SUPPORTED: 100,
  ERROR_NO_INPUT_DEVICES: 101,
  ERROR_BROWSER_VERSION_NOT_SUPPORTED: 103,
  FEEDBACK_CAMERA_ACQUIRING_FAILED: 104,
  FEEDBACK_DIALOG_CLOSED: 202,
  ERROR_SERVER_CONNECTION_FAILURE: 500,
  ERROR_FETCH_INTERNAL: 500,
  ERROR_SERVER_INTERNAL: 500,
  ERROR_MODEL_FAIL: 500,
  // The server's 429/503 refusals (docs/api-decisions.md), reported in the SDK's server family.
  ERROR_TOO_MANY_ATTEMPTS: 500,
  ERROR_TOO_MANY_REQUESTS: 500,
  ERROR_SERVER_BUSY: 500,
  FEEDBACK_CAPTURE_TIMEOUT: 501,
});

export class FaceSDKError extends Error {
  /**
   * @param {keyof typeof ERROR_CODES | string} key error name
   * @param {{ detail?: string, cause?: unknown, strings?: Readonly<Record<string,string>>, retryAfter?: number }} [opts]
   */
  constructor(key, opts = {}) {
    super(key, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FaceSDKError';
    /** @type {number} */
    this.code = ERROR_CODES[key] ?? 500;
    /** @type {string} */
    this.key = key;
    /** @type {string | undefined} developer detail (never shown to users) */
    this.detail = opts.detail;
    /** @type {number | undefined} seconds the server asked to wait (its Retry-After), on 429/503 refusals */
    this.retryAfter = opts.retryAfter;
    this._strings = opts.strings ?? ENGLISH;
  }

  /**
   * The user-facing text for this error in the SDK's localization; `{retryAfter}` in it becomes
   * the wait ("30 s", "5 min", "2 h"), or, when the server gave none, ` ({retryAfter})` is dropped.
   */
  getLocalizedString() {
    const text = t(this._strings, this.key);
    const s = this.retryAfter;
    if (s === undefined) return text.replace(' ({retryAfter})', '').replace('{retryAfter}', '');
    const wait = s < 120 ? `${s} s` : s < 7200 ? `${Math.ceil(s / 60)} min` : `${Math.ceil(s / 3600)} h`;
    return text.replace('{retryAfter}', wait);
  }

  toJSON() {
    return { code: this.code, message: this.message, detail: this.detail, retryAfter: this.retryAfter };
  }
}

/** @param {unknown} err @returns {err is FaceSDKError} */
export function isFaceSDKError(err) {
  return err instanceof FaceSDKError;
}
