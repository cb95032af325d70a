/**
 * faceproof Face Web SDK: the reference SDK's public API (`FaceSDK.preInitialize`,
 * `new FaceSDK(options)`, `initialize()`, `capture()`), enums and errors, on faceproof's
 * own models, runtime and capture envelope. See docs/sdk.md.
 *
 * ```js
 * import { FaceSDK, Template } from '/sdk/faceproof.js';
 * await FaceSDK.preInitialize('/api/v1/models', '/api/v1/pub_key');
 * const sdk = new FaceSDK({ requiredTemplates: [Template.JPEG] });
 * await sdk.initialize();
 * const blob = await sdk.capture(); // post as `file` to /api/v1/process
 * ```
 * @module faceproof
 */
import { Analyzer } from './analyzer.js';
import { loadBundle } from './bundle.js';
import { CaptureSession, SDK_VERSION } from './capture.js';
import { clockOffset, importPublicKey } from './envelope.js';
import { DEFAULT_MODELS_URL, jsonBody, mergedHeaders, normalizeEndpoint, post, siblingUrl } from './endpoints.js';
import { FaceSDKError } from './errors.js';
import { resolveOptions } from './options.js';
import { loadRuntime } from './runtime.js';
import { browserFacts, unsupportedReason } from './support.js';
import { ProgressDialog } from './ui.js';

export { AsThreshold, Base64, EyesStatus, Template, TransactionMode } from './enums.js';
export { ERROR_CODES, FaceSDKError } from './errors.js';
export { ENGLISH as DEFAULT_LOCALIZATION } from './localization.js';
export { validateBackgroundColor } from './options.js';

/**
 * @typedef {string | URL | {url: string, headers?: Array<{name: string, value: string}>} | {URL: string | {url: string, headers?: Array<{name: string, value: string}>}}} EndpointArg
 */

/** @typedef {{models: import('./endpoints.js').Endpoint, pubKey: import('./endpoints.js').Endpoint, assets: string}} Endpoints */

/** Module state shared by every FaceSDK instance of the page. */
const shared = {
  /** @type {Endpoints | null} */
  endpoints: null,
  /** @type {Promise<{models: Record<string, Uint8Array>, publicKey: {kid: string, key: CryptoKey}}> | null} */
  fetched: null,
  /** @type {Map<string, Promise<Analyzer>>} */
  analyzers: new Map(),
};

function documentBase() {
  return globalThis.document?.baseURI ?? globalThis.location?.href ?? 'http://localhost/';
}

/**
 * Where `vendor/` and `wasm/` are: next to this module when the server serves it
 * (`/sdk/faceproof.js`), else the `/sdk/` folder of the server that serves the models.
 * @param {string} modelsUrl @param {string | undefined} override
 */
function assetsBase(modelsUrl, override) {
  if (override) return new URL(override.endsWith('/') ? override : override + '/', documentBase()).href;
  const here = new URL('./', import.meta.url);
  if (/^https?:$/.test(here.protocol) && /\/sdk\/faceproof\.js$/.test(new URL(import.meta.url).pathname)) return here.href;
  return new URL('/sdk/', new URL(modelsUrl, documentBase())).href;
}

/** @param {unknown} err @param {Readonly<Record<string,string>>} [strings] @returns {FaceSDKError} */
function asSdkError(err, strings) {
  const e = err instanceof FaceSDKError ? err : new FaceSDKError('ERROR_SERVER_INTERNAL', { cause: err, detail: String(/** @type {any} */ (err)?.message ?? err) });
  if (strings) e._strings = strings;
  return e;
}

/** @param {Endpoints} ep */
function startFetch(ep) {
  const p = (async () => {
    const modelsUrl = new URL(ep.models.url, documentBase()).href;
    const pubUrl = new URL(ep.pubKey.url, documentBase()).href;
    // Headers given for either endpoint (LogAPITrigger, requestID …) go with every call.
    const headers = mergedHeaders(ep.models, ep.pubKey);
    const [bundle, pub] = await Promise.all([
      post(modelsUrl, headers, { httpErrorKey: 'ERROR_FETCH_INTERNAL', retry: true }).then((r) => r.arrayBuffer()),
      post(pubUrl, headers, { httpErrorKey: 'ERROR_FETCH_INTERNAL', retry: true }).then((r) => jsonBody(r, pubUrl)),
    ]);
    const models = await loadBundle(bundle);
    let publicKey;
    try {
      publicKey = await importPublicKey(pub);
    } catch (cause) {
      throw new FaceSDKError('ERROR_SERVER_INTERNAL', { cause, detail: 'unusable public key' });
    }
    return { models, publicKey };
  })();
  p.catch(() => {
    if (shared.fetched === p) shared.fetched = null; // a later call retries
  });
  return p;
}

export class FaceSDK {
  /** This SDK's version string (also sealed in every envelope). */
  static get version() {
    return SDK_VERSION;
  }

  /**
   * Fetches and checks the models and the server's public key once per page (call it at
   * application start). Both arguments take the reference's shapes: a URL string,
   * `{url, headers: [{name, value}]}`, `{URL: string}` or `{URL: {url, headers}}`; the headers
   * (e.g. `LogAPITrigger`, `requestID`) are sent with every call the SDK makes.
   * @param {EndpointArg} [models] default '/api/v1/models'
   * @param {EndpointArg} [pubKey] default: `pub_key` next to the models URL
   * @param {{assetsURL?: string}} [extra] faceproof: where `/sdk/vendor/` and `/sdk/wasm/` are
   * @returns {Promise<void>}
   */
  static preInitialize(models, pubKey, extra = {}) {
    let ep;
    try {
      const m = normalizeEndpoint(models, DEFAULT_MODELS_URL, 'models');
      const k = normalizeEndpoint(pubKey, siblingUrl(m.url, 'pub_key', documentBase()), 'pubKey');
      ep = { models: m, pubKey: k, assets: assetsBase(m.url, extra.assetsURL) };
    } catch (err) {
      return Promise.reject(err);
    }
    shared.endpoints = ep;
    shared.fetched = startFetch(ep);
    return shared.fetched.then(() => undefined);
  }

  /** @param {Record<string, unknown>} [options] the reference's capture options */
  constructor(options = {}) {
    this._o = resolveOptions(options);
    /** @type {Analyzer | null} */
    this._analyzer = null;
    /** @type {{kid: string, key: CryptoKey} | null} */
    this._publicKey = null;
    this._clockOffset = 0;
    /** @type {Promise<void> | null} */
    this._init = null;
    /** @type {CaptureSession | null} */
    this._session = null;
    /** @type {import('./capture.js').CaptureStats | null} */
    this.lastCaptureStats = null;
  }

  /** The resolved options (defaults applied), read-only. */
  get options() {
    return this._o;
  }

  /**
   * Bootstraps the SDK: support check (unless `skipSupportCheck`), models and key (from
   * `preInitialize`, or the default URLs), clock alignment, runtime and models compiled.
   * @returns {Promise<void>}
   */
  initialize() {
    if (!this._init) {
      this._init = this._initialize().catch((err) => {
        this._init = null;
        throw asSdkError(err, this._o.localization);
      });
    }
    return this._init;
  }

  async _initialize() {
    const o = this._o;
    if (!o.skipSupportCheck) {
      const reason = unsupportedReason(browserFacts());
      if (reason) throw new FaceSDKError(reason, { strings: o.localization });
    }
    const progress = globalThis.document ? new ProgressDialog(o.htmlTemplates.PROGRESS_DIALOG, o.localization) : null;
    const timer = setTimeout(() => progress?.show('FEEDBACK_INITIALIZATION'), 300);
    try {
      if (!shared.endpoints || !shared.fetched) {
        if (!shared.endpoints) {
          const m = normalizeEndpoint(undefined, DEFAULT_MODELS_URL, 'models');
          shared.endpoints = {
            models: m,
            pubKey: { url: siblingUrl(m.url, 'pub_key', documentBase()), headers: [] },
            assets: assetsBase(m.url, undefined),
          };
        }
        shared.fetched = startFetch(shared.endpoints);
      }
      const ep = shared.endpoints;
      const [fetched] = await Promise.all([shared.fetched, this._syncClock()]);
      this._publicKey = fetched.publicKey;
      let an = shared.analyzers.get(ep.assets);
      if (!an) {
        an = (async () => {
          let core;
          try {
            core = await loadRuntime(ep.assets);
          } catch (cause) {
            throw new FaceSDKError('ERROR_FETCH_INTERNAL', { cause, detail: 'runtime did not load from ' + ep.assets });
          }
          return Analyzer.create(core, fetched.models);
        })();
        an.catch(() => shared.analyzers.delete(ep.assets));
        shared.analyzers.set(ep.assets, an);
      }
      this._analyzer = await an;
    } finally {
      clearTimeout(timer);
      progress?.hide();
    }
  }

  /** Aligns the envelope timestamps with the server clock (docs/envelope.md §4). */
  async _syncClock() {
    const ep = /** @type {Endpoints} */ (shared.endpoints);
    const url = siblingUrl(ep.models.url, 'time', documentBase());
    const sent = Date.now();
    // No retry here: a second attempt after a wait would skew the round trip the offset needs.
    const res = await post(url, mergedHeaders(ep.models, ep.pubKey));
    const body = await jsonBody(res, url);
    const received = Date.now();
    if (typeof body?.epoch_ms !== 'number') throw new FaceSDKError('ERROR_SERVER_INTERNAL', { detail: '/time answer lacks epoch_ms' });
    this._clockOffset = clockOffset(body.epoch_ms, sent, received);
  }

  /**
   * Opens the guided capture and resolves with the sealed envelope (a Blob to post as
   * `file`). Rejects with a FaceSDKError: 101 no camera, 104 camera refused, 202 closed,
   * 501 timed out, 500 server unreachable.
   * @returns {Promise<Blob>}
   */
  async capture() {
    const o = this._o;
    if (this._session) throw asSdkError(new FaceSDKError('ERROR_SERVER_INTERNAL', { detail: 'a capture is already running' }), o.localization);
    try {
      await this.initialize();
      const ep = /** @type {Endpoints} */ (shared.endpoints);
      const headers = mergedHeaders(ep.models, ep.pubKey);
      const challengeUrl = siblingUrl(ep.models.url, 'challenge', documentBase());
      this._session = new CaptureSession({
        options: o,
        analyzer: /** @type {Analyzer} */ (this._analyzer),
        publicKey: /** @type {{kid: string, key: CryptoKey}} */ (this._publicKey),
        clockOffset: this._clockOffset,
        issueChallenge: async () => {
          // Safe to send twice: an unused challenge just expires. (The capture itself is posted by
          // the integrator, never by the SDK: its nonce is single-use.)
          const body = await jsonBody(await post(challengeUrl, headers, { retry: true }), challengeUrl);
          return body?.challenge;
        },
        onStats: (s) => {
          this.lastCaptureStats = s;
        },
      });
      this._syncClock().then(
        () => {
          if (this._session) this._session.ctx.clockOffset = this._clockOffset;
        },
        () => undefined,
      );
      return await this._session.run();
    } catch (err) {
      throw asSdkError(err, o.localization);
    } finally {
      this._session = null;
    }
  }

  /**
   * The reference's method form of the option: turns the eyes-status detector on (default)
   * or off for the next captures.
   * @param {boolean} [enable]
   */
  enableEyesStatusDetector(enable = true) {
    this._o = Object.freeze({ ...this._o, enableEyesStatusDetector: !!enable });
    return Promise.resolve();
  }

  /** The reference's method form of `enableICAOChecks`. @param {boolean} [enable] */
  enableICAOChecks(enable = true) {
    this._o = Object.freeze({ ...this._o, enableICAOChecks: !!enable });
    return Promise.resolve();
  }

  /** Closes a running capture as if the user had (it rejects with 202). */
  close() {
    this._session?.cancel(new FaceSDKError('FEEDBACK_DIALOG_CLOSED', { strings: this._o.localization }));
  }
}

export default FaceSDK;
