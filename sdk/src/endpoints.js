/**
 * Server endpoints: the reference's `preInitialize` argument shapes, header forwarding and
 * the POST calls the SDK makes (/models, /pub_key, /time, /challenge) and their 429/503 handling.
 * @module endpoints
 */
import { FaceSDKError } from './errors.js';

/** @typedef {{url: string, headers: Array<[string, string]>}} Endpoint */

export const DEFAULT_MODELS_URL = '/api/v1/models';
/** The longest the SDK waits for one server answer (the models bundle is ≈ 2.5 MB). */
export const REQUEST_TIMEOUT_MS = 60000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Normalises every documented call shape to `{url, headers}`:
 * a URL string; `{url, headers:[{name, value}]}`; `{URL: string}`; `{URL: {url, headers}}`
 * (the reference's examples use all of them).
 * @param {unknown} arg
 * @param {string | null} fallback used when `arg` is undefined/null
 * @param {string} what for error messages
 * @returns {Endpoint}
 */
export function normalizeEndpoint(arg, fallback, what) {
  if (arg === undefined || arg === null) {
    if (fallback === null) throw new TypeError(`faceproof: ${what} URL is required`);
    return { url: fallback, headers: [] };
  }
  if (typeof arg === 'string' || arg instanceof URL) {
    return { url: checkUrl(String(arg), what), headers: [] };
  }
  if (typeof arg !== 'object' || Array.isArray(arg)) {
    throw new TypeError(`faceproof: ${what} must be a URL string or {url, headers}`);
  }
  const o = /** @type {Record<string, any>} */ (arg);
  if (o.URL !== undefined && o.url === undefined) {
    const inner = normalizeEndpoint(o.URL, null, what);
    const extra = o.headers === undefined ? [] : checkHeaders(o.headers, what);
    return { url: inner.url, headers: [...inner.headers, ...extra] };
  }
  if (typeof o.url !== 'string' && !(o.url instanceof URL)) {
    throw new TypeError(`faceproof: ${what}.url must be a URL string`);
  }
  return {
    url: checkUrl(String(o.url), what),
    headers: o.headers === undefined ? [] : checkHeaders(o.headers, what),
  };
}

/** @param {string} url @param {string} what */
function checkUrl(url, what) {
  if (!url.trim()) throw new TypeError(`faceproof: ${what} URL is empty`);
  return url.trim();
}

/**
 * `[{name, value}]` (the reference's shape); a plain `{name: value}` object is accepted too.
 * @param {unknown} headers @param {string} what
 * @returns {Array<[string, string]>}
 */
function checkHeaders(headers, what) {
  /** @type {Array<[string, string]>} */
  const out = [];
  const list = Array.isArray(headers)
    ? headers
    : headers && typeof headers === 'object'
      ? Object.entries(headers).map(([name, value]) => ({ name, value }))
      : null;
  if (list === null) throw new TypeError(`faceproof: ${what}.headers must be [{name, value}]`);
  for (const h of list) {
    const name = h && h.name;
    const value = h && h.value;
    if (typeof name !== 'string' || !HEADER_NAME.test(name)) {
      throw new TypeError(`faceproof: ${what}.headers: invalid header name ${JSON.stringify(name)}`);
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new TypeError(`faceproof: ${what}.headers: header ${name} needs a string value`);
    }
    out.push([name, String(value)]);
  }
  return out;
}

/**
 * A sibling endpoint of the models URL: `/api/v1/models` → `/api/v1/<name>` (same host, same
 * proxy path prefix, as the reference's client-server routing expects).
 * @param {string} modelsUrl @param {string} name @param {string} base document base URL
 */
export function siblingUrl(modelsUrl, name, base) {
  const u = new URL(modelsUrl, base);
  u.pathname = u.pathname.replace(/[^/]*\/?$/, name);
  u.search = '';
  return u.href;
}

/** Headers of several endpoints, first occurrence of each name wins. @param {Endpoint[]} eps */
export function mergedHeaders(...eps) {
  /** @type {Map<string, [string, string]>} */
  const seen = new Map();
  for (const ep of eps) for (const h of ep.headers) if (!seen.has(h[0].toLowerCase())) seen.set(h[0].toLowerCase(), h);
  return [...seen.values()];
}

/** A 503 whose Retry-After is at most this many seconds is retried once (GET-like calls only). */
export const MAX_RETRY_AFTER_S = 5;

/**
 * `Retry-After` in whole seconds (delta-seconds or an HTTP date); undefined if absent or bad.
 * @param {string | null | undefined} value @param {number} [now] ms
 * @returns {number | undefined}
 */
export function retryAfterSeconds(value, now = Date.now()) {
  const v = (value ?? '').trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = /[a-z]{3}/i.test(v) ? Date.parse(v) : NaN; // a date names its month
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The error for a 429/503 refusal: the server's name (ERROR_TOO_MANY_ATTEMPTS,
 * ERROR_TOO_MANY_REQUESTS, ERROR_SERVER_BUSY) and its Retry-After.
 * @param {Response} res @param {string} url
 */
async function refusal(res, url) {
  const retryAfter = retryAfterSeconds(res.headers.get('Retry-After'));
  let key = res.status === 503 ? 'ERROR_SERVER_BUSY' : 'ERROR_TOO_MANY_REQUESTS';
  if (res.status === 429) {
    try {
      const name = (await jsonBody(res, url))?.message;
      if (name === 'ERROR_TOO_MANY_ATTEMPTS') key = name;
    } catch {
      /* a proxy's 429 without our body: the rate limit */
    }
  }
  return new FaceSDKError(key, { retryAfter, detail: `POST ${url}: HTTP ${res.status}` });
}

/**
 * POST with no body (the reference's endpoints take POST); a network failure is
 * ERROR_SERVER_CONNECTION_FAILURE, a 429/503 refusal ERROR_TOO_MANY_* / ERROR_SERVER_BUSY with
 * `retryAfter`, any other HTTP error `httpErrorKey` (all code 500). With `retry` (calls that
 * carry nothing single-use), a 503 with Retry-After ≤ MAX_RETRY_AFTER_S is sent once more after
 * that delay.
 * @param {string} url
 * @param {Array<[string, string]>} headers
 * @param {{fetchImpl?: typeof fetch, httpErrorKey?: string, signal?: AbortSignal, retry?: boolean}} [opts]
 * @returns {Promise<Response>}
 */
export async function post(url, headers, opts = {}) {
  const f = opts.fetchImpl ?? globalThis.fetch;
  for (let attempt = 0; ; attempt++) {
    // A server that never answers must not leave initialize()/capture() pending for ever.
    const signal = opts.signal ?? (typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(REQUEST_TIMEOUT_MS) : undefined);
    let res;
    try {
      res = await f(url, { method: 'POST', headers, credentials: 'same-origin', cache: 'no-store', signal });
    } catch (cause) {
      throw new FaceSDKError('ERROR_SERVER_CONNECTION_FAILURE', { cause, detail: `POST ${url} failed` });
    }
    if (res.ok) return res;
    if (res.status !== 429 && res.status !== 503) {
      throw new FaceSDKError(opts.httpErrorKey ?? 'ERROR_SERVER_INTERNAL', { detail: `POST ${url}: HTTP ${res.status}` });
    }
    const err = await refusal(res, url);
    const wait = err.retryAfter;
    if (!opts.retry || attempt > 0 || res.status !== 503 || wait === undefined || wait > MAX_RETRY_AFTER_S) throw err;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

/** @param {Response} res @param {string} url */
export async function jsonBody(res, url) {
  try {
    return JSON.parse(new TextDecoder().decode(await res.arrayBuffer()));
  } catch (cause) {
    throw new FaceSDKError('ERROR_SERVER_INTERNAL', { cause, detail: `POST ${url}: not JSON` });
  }
}
