import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENGLISH, REFERENCE_KEYS, resolveLocalization, t } from '../../src/localization.js';
import { ERROR_CODES, FaceSDKError } from '../../src/errors.js';

// Figure 9 of the reference ("Default English messages"), typed from the document.
const REFERENCE = [
  'FEEDBACK_RETRY', 'FEEDBACK_RETRY_INSECURE', 'FEEDBACK_RETRY_QUALITY', 'FEEDBACK_ENROLLED', 'FEEDBACK_CAPTURED',
  'FEEDBACK_NOT_ENROLLED', 'FEEDBACK_VERIFY_COMPLETED', 'FEEDBACK_VERIFY_FAILED', 'FEEDBACK_SEARCHING',
  'FEEDBACK_INSIDE_GUIDE', 'FEEDBACK_PLEASE_HOLD', 'FEEDBACK_STABLE', 'FEEDBACK_EYE_LEVEL', 'FEEDBACK_UP_FACING',
  'FEEDBACK_DOWN_FACING', 'FEEDBACK_FACE_OUTSIDE', 'FEEDBACK_CLOSE', 'FEEDBACK_FAR', 'FEEDBACK_LEFT_FACING',
  'FEEDBACK_RIGHT_FACING', 'FEEDBACK_ROTATED', 'FEEDBACK_NOT_STABLE', 'FEEDBACK_OK', 'FEEDBACK_NO',
  'FEEDBACK_NOT_CENTERED', 'FEEDBACK_CAMERA_ACQUIRING_FAILED', 'FEEDBACK_PROCESSING', 'FEEDBACK_UPLOAD_FAILURE',
  'FEEDBACK_INITIALIZATION', 'FEEDBACK_CHANGE_LIGHT', 'FEEDBACK_CHANGE_LIGHT_TOO_BRIGHT',
  'FEEDBACK_CHANGE_LIGHT_TOO_DARK', 'FEEDBACK_BUTTON_CLOSE', 'FEEDBACK_BUTTON_RETRY', 'FEEDBACK_TRAINING_BUTTON_NEXT',
  'FEEDBACK_TRAINING_LABEL', 'FEEDBACK_ORIENTATION_NOT_SUPPORTED', 'FEEDBACK_TRAINING_DIALOG_CLOSED',
  'FEEDBACK_LICENCE_INVALID', 'ERROR_BROWSER_NOT_SUPPORTED', 'ERROR_BROWSER_VERSION_NOT_SUPPORTED',
  'ERROR_DEVICE_NOT_SUPPORTED', 'ERROR_DEVICE_NOT_SUPPORTED_ANDROID', 'ERROR_DEVICE_NOT_SUPPORTED_IOS',
  'ERROR_DEVICE_NOT_SUPPORTED_MEMORY', 'ERROR_PLATFORM_NOT_SUPPORTED_ANDROID', 'ERROR_PLATFORM_NOT_SUPPORTED_IOS',
  'ERROR_BROWSER_FEATURE_NOT_SUPPORTED', 'ERROR_WEBRTC_NOT_SUPPORTED', 'ERROR_MODEL_FAIL', 'ERROR_SERVER_INTERNAL',
  'ERROR_SERVER_CONNECTION_FAILURE',
];

test('every key of the reference English strings exists, with its text', () => {
  assert.deepEqual([...REFERENCE_KEYS].sort(), [...REFERENCE].sort());
  for (const k of REFERENCE) assert.ok(typeof ENGLISH[k] === 'string' && ENGLISH[k].length > 0, k);
  assert.equal(ENGLISH.FEEDBACK_CLOSE, 'Move Away');
  assert.equal(ENGLISH.FEEDBACK_FAR, 'Move Close');
  assert.equal(ENGLISH.FEEDBACK_CHANGE_LIGHT_TOO_DARK, 'Too Dark, Move to better lighting.');
});

test('per-key override, everything else falls back to English', () => {
  const es = resolveLocalization({ FEEDBACK_CLOSE: 'Aléjate', FEEDBACK_FAR: 'Acércate', FEEDBACK_OK: '' });
  assert.equal(t(es, 'FEEDBACK_CLOSE'), 'Aléjate');
  assert.equal(t(es, 'FEEDBACK_FAR'), 'Acércate');
  assert.equal(t(es, 'FEEDBACK_OK'), ENGLISH.FEEDBACK_OK);
  assert.equal(t(es, 'FEEDBACK_INSIDE_GUIDE'), ENGLISH.FEEDBACK_INSIDE_GUIDE);
  assert.equal(t(es, 'NO_SUCH_KEY'), 'NO_SUCH_KEY');
  assert.equal(resolveLocalization(undefined), ENGLISH);
  assert.throws(() => resolveLocalization({ FEEDBACK_OK: 3 }), TypeError);
  assert.throws(() => resolveLocalization('es'), TypeError);
});

test('errors carry the documented codes, the name as message and a localized string', () => {
  const cases = {
    ERROR_BROWSER_NOT_SUPPORTED: 100, ERROR_NO_INPUT_DEVICES: 101, ERROR_BROWSER_VERSION_NOT_SUPPORTED: 103,
    FEEDBACK_CAMERA_ACQUIRING_FAILED: 104, FEEDBACK_DIALOG_CLOSED: 202, ERROR_SERVER_CONNECTION_FAILURE: 500,
    ERROR_FETCH_INTERNAL: 500, FEEDBACK_CAPTURE_TIMEOUT: 501, ERROR_DEVICE_NOT_SUPPORTED_MEMORY: 100,
    ERROR_BROWSER_FEATURE_NOT_SUPPORTED: 100,
  };
  for (const [name, code] of Object.entries(cases)) {
    const e = new FaceSDKError(name);
    assert.equal(e.code, code, name);
    assert.equal(ERROR_CODES[name], code);
    assert.equal(e.message, name);
    assert.ok(e instanceof Error);
    assert.equal(e.getLocalizedString(), ENGLISH[name]);
  }
  const fr = resolveLocalization({ FEEDBACK_CAMERA_ACQUIRING_FAILED: 'Caméra refusée' });
  assert.equal(new FaceSDKError('FEEDBACK_CAMERA_ACQUIRING_FAILED', { strings: fr }).getLocalizedString(), 'Caméra refusée');
  assert.equal(new FaceSDKError('FEEDBACK_DIALOG_CLOSED', { strings: fr }).getLocalizedString(), ENGLISH.FEEDBACK_DIALOG_CLOSED);
});
