/**
 * The browser/device support check `initialize()` runs unless `skipSupportCheck` is set
 * (the reference's 100/103 errors). Pure: it reads the facts it is given.
 * @module support
 */

/**
 * @typedef {object} SupportFacts
 * @property {string} userAgent
 * @property {boolean} webAssembly
 * @property {boolean} subtleCrypto
 * @property {boolean} textDecoder
 * @property {boolean} getUserMedia
 * @property {number | undefined} deviceMemory GB (navigator.deviceMemory)
 */

/**
 * @param {SupportFacts} f
 * @returns {string | null} the error name, or null when supported
 */
export function unsupportedReason(f) {
  const ua = f.userAgent || '';
  const android = /Android (\d+)(?:\.(\d+))?/.exec(ua);
  if (android && Number(android[1]) < 7) return 'ERROR_DEVICE_NOT_SUPPORTED_ANDROID';
  const ios = /(?:iPhone|iPad|iPod).*? OS (\d+)_(\d+)/.exec(ua);
  if (ios) {
    const v = Number(ios[1]) + Number(ios[2]) / 100;
    if (v < 13) return 'ERROR_DEVICE_NOT_SUPPORTED_IOS';
    const safari = !/CriOS|FxiOS|EdgiOS|OPiOS/.test(ua);
    if (!safari && v < 14.03) return 'ERROR_PLATFORM_NOT_SUPPORTED_IOS';
  }
  if (typeof f.deviceMemory === 'number' && f.deviceMemory < 1) return 'ERROR_DEVICE_NOT_SUPPORTED_MEMORY';
  if (!f.webAssembly) return 'ERROR_BROWSER_NOT_SUPPORTED';
  if (!f.subtleCrypto || !f.textDecoder) return 'ERROR_BROWSER_FEATURE_NOT_SUPPORTED';
  if (!f.getUserMedia) return 'ERROR_WEBRTC_NOT_SUPPORTED';
  const chrome = /(?:Chrome|Chromium|CriOS)\/(\d+)/.exec(ua);
  if (chrome && Number(chrome[1]) < 91) return 'ERROR_BROWSER_VERSION_NOT_SUPPORTED';
  const firefox = /Firefox\/(\d+)/.exec(ua);
  if (firefox && Number(firefox[1]) < 90) return 'ERROR_BROWSER_VERSION_NOT_SUPPORTED';
  const safari = !chrome && /Version\/(\d+)(?:\.(\d+))?.*Safari/.exec(ua);
  if (safari && Number(safari[1]) < 14) return 'ERROR_BROWSER_VERSION_NOT_SUPPORTED';
  return null;
}

/** The facts of the running browser. @returns {SupportFacts} */
export function browserFacts() {
  const nav = /** @type {any} */ (globalThis.navigator ?? {});
  return {
    userAgent: nav.userAgent ?? '',
    webAssembly: typeof globalThis.WebAssembly === 'object',
    subtleCrypto: !!globalThis.crypto?.subtle,
    textDecoder: typeof globalThis.TextDecoder === 'function',
    getUserMedia: typeof nav.mediaDevices?.getUserMedia === 'function',
    deviceMemory: typeof nav.deviceMemory === 'number' ? nav.deviceMemory : undefined,
  };
}
