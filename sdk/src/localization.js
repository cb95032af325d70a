/**
 * User-facing strings. `ENGLISH` holds every key of the reference SDK's default English
 * strings (same keys, same texts) plus the keys faceproof adds for its own screens; the
 * `localization` option overrides any subset, per key, and everything else falls back to
 * English.
 * @module localization
 */

/** The reference's default English messages, key for key. */
const REFERENCE = {
  FEEDBACK_RETRY: 'Something is weird, move slightly to change lighting',
  FEEDBACK_RETRY_INSECURE: 'Insecure camera feed',
  FEEDBACK_RETRY_QUALITY: 'Bad Quality, Retry Capture',
  FEEDBACK_ENROLLED: 'Registered Successfully',
  FEEDBACK_CAPTURED: 'Captured Successfully',
  FEEDBACK_NOT_ENROLLED: 'User Not Enrolled',
  FEEDBACK_VERIFY_COMPLETED: 'Verification Successful',
  FEEDBACK_VERIFY_FAILED: 'Verification failed',
  FEEDBACK_SEARCHING: 'Searching...',
  FEEDBACK_INSIDE_GUIDE: 'Please be inside the guide',
  FEEDBACK_PLEASE_HOLD: 'Please hold.',
  FEEDBACK_STABLE: 'Please be stable',
  FEEDBACK_EYE_LEVEL: 'Look Straight',
  FEEDBACK_UP_FACING: 'Look Down to be parallel to camera',
  FEEDBACK_DOWN_FACING: 'Look up to be parallel to camera',
  FEEDBACK_FACE_OUTSIDE: 'Please be inside guide',
  FEEDBACK_CLOSE: 'Move Away',
  FEEDBACK_FAR: 'Move Close',
  FEEDBACK_LEFT_FACING: 'Looking Left, Please Look straight',
  FEEDBACK_RIGHT_FACING: 'Looking Right, Please Look straight',
  FEEDBACK_ROTATED: 'Look Straight',
  FEEDBACK_NOT_STABLE: 'Please be stable',
  FEEDBACK_OK: 'Please Hold',
  FEEDBACK_NO: 'Checking',
  FEEDBACK_NOT_CENTERED: 'Center Face in oval',
  FEEDBACK_CAMERA_ACQUIRING_FAILED: 'Cannot acquire camera, Allow permission Or Retry Capture',
  FEEDBACK_PROCESSING: 'Processing...',
  FEEDBACK_UPLOAD_FAILURE: 'Internal error retry',
  FEEDBACK_INITIALIZATION: 'Initializing...',
  FEEDBACK_CHANGE_LIGHT: 'Avoid shadows',
  FEEDBACK_CHANGE_LIGHT_TOO_BRIGHT: 'Too Bright, Move to better lighting.',
  FEEDBACK_CHANGE_LIGHT_TOO_DARK: 'Too Dark, Move to better lighting.',
  FEEDBACK_BUTTON_CLOSE: 'Close',
  FEEDBACK_BUTTON_RETRY: 'Retry',
  FEEDBACK_TRAINING_BUTTON_NEXT: 'Next',
  FEEDBACK_TRAINING_LABEL: 'Dont Show again',
  FEEDBACK_ORIENTATION_NOT_SUPPORTED: 'Only Portrait mode is supported',
  FEEDBACK_TRAINING_DIALOG_CLOSED: 'Training dialog, exited',
  FEEDBACK_LICENCE_INVALID: 'License Invalid!!',
  ERROR_BROWSER_NOT_SUPPORTED:
    'Browser not supported. Please use Chrome, Firefox, Opera, Edge(iOS, Android, Desktop), Samsung Internet (Android) or Safari (iOS, MAC)',
  ERROR_BROWSER_VERSION_NOT_SUPPORTED:
    'Browser version not supported. Please update to latest version available.',
  ERROR_DEVICE_NOT_SUPPORTED: 'Device not supported, Please use mobile device or desktop.',
  ERROR_DEVICE_NOT_SUPPORTED_ANDROID:
    'Android version not supported. Please update to latest version available',
  ERROR_DEVICE_NOT_SUPPORTED_IOS: 'IOS version not supported. Please update to latest version available',
  ERROR_DEVICE_NOT_SUPPORTED_MEMORY: 'Device not supported. Insufficient Memory',
  ERROR_PLATFORM_NOT_SUPPORTED_ANDROID:
    'Android version not supported. Please update to latest version available',
  ERROR_PLATFORM_NOT_SUPPORTED_IOS:
    'IOS version not supported for this browser. Please update to latest version available',
  ERROR_BROWSER_FEATURE_NOT_SUPPORTED: 'TextDecoder or Crypto API not present.',
  ERROR_WEBRTC_NOT_SUPPORTED: 'Webrtc not supported',
  ERROR_MODEL_FAIL: 'Model detection failed',
  ERROR_SERVER_INTERNAL: 'Internal Server Error',
  ERROR_SERVER_CONNECTION_FAILURE: 'Server connection failure',
};

/** Keys faceproof adds: error names from the reference's error table that have no string in
 * its localization list, and the texts of faceproof's own guidance (eyes, challenge). */
const FACEPROOF = {
  FEEDBACK_DIALOG_CLOSED: 'Capture closed',
  FEEDBACK_CAPTURE_TIMEOUT: 'Capture timed out, please retry',
  ERROR_NO_INPUT_DEVICES: 'No camera found',
  ERROR_FETCH_INTERNAL: 'Could not download the capture models, please retry',
  ERROR_TOO_MANY_ATTEMPTS: 'Too many attempts, please try again later ({retryAfter})',
  ERROR_TOO_MANY_REQUESTS: 'Too many requests, please try again later ({retryAfter})',
  ERROR_SERVER_BUSY: 'The server is busy, please try again later ({retryAfter})',
  FEEDBACK_EYES_CLOSED: 'Please open your eyes',
  FEEDBACK_MULTIPLE_FACES: 'Only one face, please',
  FEEDBACK_FOLLOW_OVAL: 'Move your face into the new oval',
  FEEDBACK_LIGHT_HOLD: 'Hold still while the screen changes colour',
  FEEDBACK_CAPTURE_TITLE: 'Face capture',
  FEEDBACK_TRAINING_TITLE: 'Before you start',
  FEEDBACK_TRAINING_TEXT:
    'Find even light, hold the phone at eye level, keep your face inside the oval and follow it when it moves. The screen will flash a few colours at the end: hold still.',
  FEEDBACK_RETAKE_TITLE: 'Use this photo?',
  FEEDBACK_BUTTON_USE: 'Use photo',
  FEEDBACK_SELECT_CAMERA: 'Choose a camera',
};

/** Every default string, frozen. */
export const ENGLISH = Object.freeze({ ...REFERENCE, ...FACEPROOF });

/** Keys of the reference's English list (the localization contract with integrators). */
export const REFERENCE_KEYS = Object.freeze(Object.keys(REFERENCE));

/**
 * The effective string table: English overridden by `overrides`, key by key.
 * Unknown keys are kept (a newer SDK may use them); non-string values are refused.
 * @param {Record<string, string> | undefined | null} overrides
 * @returns {Readonly<Record<string, string>>}
 */
export function resolveLocalization(overrides) {
  if (overrides === undefined || overrides === null) return ENGLISH;
  if (typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new TypeError('faceproof: localization must be an object of key → string');
  }
  const out = { ...ENGLISH };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined || value === null || value === '') continue; // fall back to English
    if (typeof value !== 'string') {
      throw new TypeError(`faceproof: localization.${key} must be a string`);
    }
    out[key] = value;
  }
  return Object.freeze(out);
}

/**
 * One string with fallback: the table's entry, else English, else the key itself.
 * @param {Readonly<Record<string, string>>} table
 * @param {string} key
 */
export function t(table, key) {
  return table[key] ?? ENGLISH[key] ?? key;
}
