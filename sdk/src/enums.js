/**
 * Public enumerations, named as the reference SDK names them (an integrator switching to
 * faceproof changes only the import).
 * @module enums
 */

/** Liveness (anti-spoofing) security levels, lowest to highest. Values are the names the
 * server accepts in `options.asThreshold`. */
export const AsThreshold = Object.freeze({
  LOW: 'LOW',
  MEDIUM: 'MEDIUM',
  MODERATE: 'MODERATE',
  BALANCED_HIGH: 'BALANCED_HIGH',
  HIGH: 'HIGH',
  BALANCED_VERY_HIGH: 'BALANCED_VERY_HIGH',
  VERY_HIGH: 'VERY_HIGH',
  HIGHEST: 'HIGHEST',
});

/** Base64 encoding flags (the Android `Base64` flag values the reference's enum mirrors). */
export const Base64 = Object.freeze({
  DEFAULT: 0,
  NO_PADDING: 1,
  NO_WRAP: 2,
  CRLF: 4,
  URL_SAFE: 8,
  NO_CLOSE: 16,
});

/** Templates the server can return for a capture (`requiredTemplates`). */
export const Template = Object.freeze({
  JPEG: 'JPEG',
  PNG: 'PNG',
  ISO_19794_5: 'ISO_19794_5',
});

/** Transaction kind (`transaction: {type}`); faceproof captures the same way for each. */
export const TransactionMode = Object.freeze({
  CAPTURE: 'CAPTURE',
  ENROLL: 'ENROLL',
  VERIFY: 'VERIFY',
});

/** Eyes status reported by `onImageQualityDetected` when the eyes detector is enabled. */
export const EyesStatus = Object.freeze({ OPEN: 'OPEN', CLOSED: 'CLOSED' });
