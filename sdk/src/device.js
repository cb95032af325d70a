/**
 * Device signals for the envelope's `device` block (challenge protocol §3.5): the camera
 * label, the track's settings, and the flags the SDK raises about the feed. The server
 * decides what to do with them (FEEDBACK_RETRY_INSECURE); labels are whatever the system
 * says, so these catch careless injection only — the challenge is what makes it costly.
 * @module device
 */

export const FLAGS = Object.freeze([
  'virtual_camera_label',
  'no_camera_label',
  'canvas_or_synthetic_track',
  'webdriver',
  'headless_user_agent',
  'emulated_device',
]);

// Software that presents video as a camera (kept in step with src/faceproof/liveness/device.py),
// and Chromium's own fake capture device ("fake_device_0").
const VIRTUAL = new RegExp(
  '(?<![a-z0-9])(?:' +
    [
      'obs', 'obs[- ]?virtual[- ]?camera?', 'manycam', 'v4l2loopback', 'akvcam', 'virtual', 'virtualcam', 'vcam',
      'xsplit', 'snap camera', 'camtwist', 'splitcam', 'e2esoft', 'youcam', 'droidcam', 'iriun', 'ivcam',
      'epoccam', 'camo', 'mmhmm', 'chromacam', 'nvidia broadcast', 'logi capture', 'dummy video device',
      'fake[_ ]?(?:video|device|camera|webcam)?(?:[_ ]?\\d+)?', 'loopback', 'screen capture', 'unity video capture',
      'newtek ndi', 'ndi webcam', 'vmix', 'wirecast',
    ].join('|') +
    ')(?![a-z0-9])',
);
const FILE_LABEL = /(^|\s)(\/dev\/|\/home\/|\/tmp\/|\/users\/|[a-z]:\\|\\\\|\.\/|~\/)|\.(y4m|mjpe?g|mp4|webm|avi|mov|mkv|h264|yuv)(\s|$)/;
const HEADLESS = /headlesschrome|phantomjs|electron\/\d|puppeteer|playwright|selenium/i;
const MOBILE = /android|iphone|ipad|ipod|mobile|silk|kindle|opera mini/i;

/** Settings kept from `MediaStreamTrack.getSettings()` (deviceId/groupId are identifiers). */
const TRACK_KEYS = ['width', 'height', 'frameRate', 'facingMode', 'resizeMode', 'aspectRatio'];

/**
 * @param {Record<string, unknown> | null | undefined} settings
 * @returns {Record<string, string | number | boolean>}
 */
export function trackSettings(settings) {
  /** @type {Record<string, string | number | boolean>} */
  const out = {};
  if (!settings) return out;
  for (const k of TRACK_KEYS) {
    const v = settings[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = Math.round(v * 1000) / 1000;
    else if (typeof v === 'string' && v.length <= 64) out[k] = v;
    else if (typeof v === 'boolean') out[k] = v;
  }
  return out;
}

/** @param {string | null | undefined} label */
export function isVirtualLabel(label) {
  const l = (label ?? '').trim().toLowerCase();
  return l !== '' && (VIRTUAL.test(l) || FILE_LABEL.test(l));
}

/**
 * @typedef {object} DeviceFacts
 * @property {string | null} label camera label
 * @property {boolean} synthetic the track is not a camera (canvas/element capture, no device id, no capabilities)
 * @property {{webdriver?: boolean, userAgent?: string, maxTouchPoints?: number, platform?: string, userAgentData?: {mobile?: boolean}}} navigator
 */

/**
 * The flags to raise, in FLAGS order.
 * @param {DeviceFacts} f
 * @returns {string[]}
 */
export function deviceFlags(f) {
  const nav = f.navigator ?? {};
  const ua = nav.userAgent ?? '';
  const flags = new Set();
  const label = (f.label ?? '').trim();
  if (!label) flags.add('no_camera_label');
  else if (isVirtualLabel(label)) flags.add('virtual_camera_label');
  if (f.synthetic) flags.add('canvas_or_synthetic_track');
  if (nav.webdriver === true) flags.add('webdriver');
  if (HEADLESS.test(ua)) flags.add('headless_user_agent');
  // DevTools device emulation: a mobile user agent on a device without touch, or a UA that
  // contradicts the client hints.
  const mobileUa = MOBILE.test(ua);
  if ((mobileUa && nav.maxTouchPoints === 0) || (nav.userAgentData && typeof nav.userAgentData.mobile === 'boolean' && nav.userAgentData.mobile !== mobileUa && /android|iphone/i.test(ua))) {
    flags.add('emulated_device');
  }
  return FLAGS.filter((x) => flags.has(x));
}

/** @param {string} ua */
export function deviceType(ua) {
  if (!ua) return 'unknown';
  return MOBILE.test(ua) ? 'mobile' : 'desktop';
}

/**
 * Whether a live track looks synthetic: a canvas/element capture track, or a video track
 * with no device id and no capabilities (what `captureStream()` yields).
 * @param {any} track MediaStreamTrack
 */
export function isSyntheticTrack(track) {
  if (!track) return true;
  if (typeof globalThis.CanvasCaptureMediaStreamTrack === 'function' && track instanceof globalThis.CanvasCaptureMediaStreamTrack) return true;
  if (track.canvas) return true;
  const settings = typeof track.getSettings === 'function' ? track.getSettings() : {};
  const caps = typeof track.getCapabilities === 'function' ? track.getCapabilities() : null;
  return !settings.deviceId && (!caps || Object.keys(caps).length === 0);
}

/** @param {string} s @param {number} n */
const cut = (s, n) => (s.length > n ? s.slice(0, n) : s);

/**
 * The envelope's `device` block.
 * @param {{label: string | null, settings: Record<string, unknown> | null, synthetic: boolean, navigator: any}} facts
 */
export function deviceInfo(facts) {
  const nav = facts.navigator ?? {};
  const ua = typeof nav.userAgent === 'string' ? nav.userAgent : '';
  const platform = nav.userAgentData?.platform || nav.platform || null;
  return {
    type: deviceType(ua),
    cameraLabel: facts.label ? cut(facts.label, 256) : null,
    userAgent: ua ? cut(ua, 1024) : null,
    platform: typeof platform === 'string' && platform ? cut(platform, 128) : null,
    track: trackSettings(facts.settings),
    flags: deviceFlags({ label: facts.label, synthetic: facts.synthetic, navigator: nav }),
  };
}
