/**
 * Server calls of the demo and the one place that turns any failure into a clear message.
 * @module demo/api
 */

/** What each documented code means for the person using the demo. */
const CODE_HINTS = {
  // SDK errors (capture()/initialize() rejections)
  100: 'This browser or device is not supported by the capture SDK.',
  101: 'No camera was found on this device.',
  103: 'This browser version is not supported; please update it.',
  104: 'The camera could not be opened: allow camera access for this site, then retry.',
  202: 'The capture dialog was closed before a capture was taken.',
  500: 'The server could not be reached, or it failed internally. Check that faceproof is running.',
  501: 'The capture timed out before a good frame was taken (captureTimeout). Retry in better light, face centred.',
  600: 'The capture did not complete; retry.',
  // Server answers
  401: 'Liveness check failed: the capture was not accepted as a live person.',
  404: 'Not found.',
  503: 'No usable face was found in an image.',
  504: 'Unsupported image or template format.',
  505: 'Unsupported match level.',
  506: 'Unsupported liveness security level.',
  507: 'The capture holds no usable frame.',
  601: 'The capture could not be opened (decryption failed or it was already used): capture again.',
  604: 'The capture expired before it reached the server (over 2 minutes, or a clock problem).',
  900: 'The image is invalid or too large.',
  901: 'The image has the wrong resolution.',
};

/** The server's "not now" refusals (HTTP 429/503 with Retry-After): the wait is the hint. */
const REFUSALS = new Set(['ERROR_TOO_MANY_ATTEMPTS', 'ERROR_TOO_MANY_REQUESTS', 'ERROR_SERVER_BUSY']);

/**
 * A failure the demo shows: code (documented code or HTTP status), short name, message.
 */
export class DemoError extends Error {
  /**
   * @param {number|null} code
   * @param {string} name
   * @param {string} message
   * @param {object} [body] the server's JSON answer, when there is one
   */
  constructor(code, name, message, body) {
    super(message);
    this.code = code;
    this.name = name;
    this.body = body;
    /** @type {string|undefined} developer detail (shown small, under the message) */
    this.detail = undefined;
  }
}

/** @param {number|null|undefined} code */
export function hintFor(code) {
  return (code != null && CODE_HINTS[code]) || '';
}

/**
 * Turns an SDK rejection (an object with `code` and `getLocalizedString()`, per the
 * reference) or any thrown value into a DemoError.
 * @param {any} err
 */
export function fromSdkError(err) {
  if (err instanceof DemoError) return err;
  const code = typeof err?.code === 'number' ? err.code : null;
  let text = '';
  try {
    if (typeof err?.getLocalizedString === 'function') text = String(err.getLocalizedString());
  } catch { /* fall through to the message */ }
  if (!text) text = String(err?.message || err || 'Unknown error');
  // The reference's errors carry their name in `message` (e.g. FEEDBACK_DIALOG_CLOSED).
  const key = [err?.key, err?.message].find((x) => typeof x === 'string' && /^[A-Z][A-Z0-9_]+$/.test(x));
  // Option validation throws TypeError/RangeError from the constructor (reference: "Invalid
  // values should raise an exception").
  const invalid = err instanceof TypeError || err instanceof RangeError;
  if (invalid) text = `Invalid capture setting: ${text.replace(/^faceproof: /, '')}`;
  const name = key || (invalid ? 'INVALID_OPTION' : err?.name && err.name !== 'Error' ? String(err.name) : 'SDK_ERROR');
  // A 429/503 refusal's localized text already says when to try again (err.retryAfter).
  const hint = REFUSALS.has(name) ? '' : hintFor(code);
  const out = new DemoError(code, name, hint && hint !== text ? `${text} — ${hint}` : text);
  if (typeof err?.detail === 'string' && err.detail) out.detail = err.detail;
  return out;
}

/**
 * POSTs and returns the server's JSON. Every body with a non-200 `code` (the reference
 * answers refusals with HTTP 400/500 and a JSON body) becomes a DemoError carrying the body.
 * @param {string} url
 * @param {RequestInit} init
 * @returns {Promise<any>}
 */
export async function postJson(url, init) {
  let response;
  try {
    response = await fetch(url, { method: 'POST', ...init });
  } catch (err) {
    throw new DemoError(500, 'ERROR_SERVER_CONNECTION_FAILURE',
      `Could not reach the server (${err?.message || err}). ${hintFor(500)}`);
  }
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new DemoError(response.status, `HTTP_${response.status}`,
      `The server answered HTTP ${response.status} without JSON: ${text.slice(0, 200) || '(empty)'}`);
  }
  const code = typeof body?.code === 'number' ? body.code : response.status;
  if (response.ok && code === 200) return body;
  const name = body?.message || body?.feedbackCode || `HTTP_${response.status}`;
  const parts = [];
  if (body?.description) parts.push(String(body.description));
  const wait = response.headers.get('Retry-After');
  const hint = REFUSALS.has(name) ? (wait && /^\d+$/.test(wait) ? `Try again in ${wait} s.` : 'Try again later.') : hintFor(code);
  if (hint) parts.push(hint);
  if (!parts.length) parts.push(`The server answered HTTP ${response.status}.`);
  throw new DemoError(code, String(name), parts.join(' — '), body);
}

/** POST /api/v1/process with the SDK's blob as `file`. */
export function process(blob, enableQuality) {
  const form = new FormData();
  form.append('file', blob, 'bdata');
  form.append('enableQuality', enableQuality ? 'true' : 'false');
  return postJson('/api/v1/process', { body: form });
}

/** POST /api/v1/verifyWithPictureId: the capture plus the ID portrait (base64). */
export function verifyWithPictureId(blob, picID, template, level) {
  const form = new FormData();
  form.append('file', blob, 'bdata');
  form.append('picID', picID);
  form.append('template', template);
  form.append('level', level);
  return postJson('/api/v1/verifyWithPictureId', { body: form });
}

/** JSON match endpoints: /matchWithSelfie and /matchWithPictureId. */
export function match(endpoint, a, b, level) {
  const body = {
    image: { template: a.base64, format: a.format },
    imageToVerifyAgainst: { template: b.base64, format: b.format },
    level,
  };
  return postJson(endpoint, {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** POST /api/v1/face/as (multipart, as documented): base64 image and a threshold. */
export function faceAs(image, threshold) {
  const form = new FormData();
  form.append('image', image.base64);
  form.append('threshold', threshold);
  return postJson('/api/v1/face/as', { body: form });
}

const MAX_UPLOAD = 15 * 1024 * 1024;

/**
 * Reads an uploaded photo: its format from the magic bytes (the server's formats: JPEG or
 * PNG) and its standard base64.
 * @param {File|undefined|null} file
 * @param {string} what the field's name in messages
 * @returns {Promise<{format: string, base64: string, url: string}>}
 */
export async function readPhoto(file, what) {
  if (!file) throw new DemoError(null, 'MISSING_FILE', `Choose a file for "${what}".`);
  if (file.size === 0) throw new DemoError(null, 'EMPTY_FILE', `"${what}": the file is empty.`);
  if (file.size > MAX_UPLOAD) {
    throw new DemoError(null, 'FILE_TOO_LARGE',
      `"${what}": ${(file.size / 1048576).toFixed(1)} MB is over the server's 15 MB limit.`);
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  let format = null;
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) format = 'JPEG';
  else if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) format = 'PNG';
  if (!format) {
    throw new DemoError(504, 'ERROR_INVALID_FORMAT',
      `"${what}" (${file.name}) is not a JPEG or PNG image.`);
  }
  return { format, base64: bytesToBase64(bytes), url: URL.createObjectURL(file) };
}

/** @param {Uint8Array} bytes */
export function bytesToBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * Decodes any of the reference's base64 variants (URL-safe, no padding, wrapped lines).
 * @param {string} text
 * @returns {Uint8Array|null}
 */
export function base64ToBytes(text) {
  try {
    let s = String(text).replace(/[\s]/g, '').replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}
