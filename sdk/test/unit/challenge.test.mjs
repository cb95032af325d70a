import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lightSchedule, readChallenge } from '../../src/challenge.js';
import { deviceFlags, deviceInfo, trackSettings } from '../../src/device.js';
import { DEFAULT_TOLERANCE, eyesOpenness, ovalFit } from '../../src/quality.js';
import { unsupportedReason } from '../../src/support.js';
import { normalizeEndpoint, siblingUrl, mergedHeaders, post } from '../../src/endpoints.js';

const V2 = {
  id: 'ch1', nonce: 'n'.repeat(22), type: 'move_closer+screen_light', issued_at_ms: 1, expires_at_ms: 120001,
  order: ['near', 'far'], min_scale_ratio: 1.2, min_step_ms: 200, max_step_ms: 20000,
  steps: [
    { role: 'near', oval: { cx: 0.42, cy: 0.55, h: 0.82 }, hold_ms: 700 },
    { role: 'far', oval: { cx: 0.6, cy: 0.45, h: 0.5 }, hold_ms: 350 },
  ],
  oval_tolerance: { center: 0.1, size_min: 0.6, size_max: 1.1 },
  step_timeout_ms: 9000,
  light: { colors: [{ color: '#FF0000', ms: 400 }, { color: '#00ff00', ms: 300 }, { color: '#0000ff', ms: 500 }, { color: '#ffffff', ms: 600 }], settle: 0.4 },
};

test('reads a v2 challenge in its issued order', () => {
  const c = readChallenge(V2);
  assert.deepEqual(c.steps.map((s) => s.role), ['near', 'far']);
  assert.deepEqual(c.steps[0].oval, { cx: 0.42, cy: 0.55, h: 0.82 });
  assert.equal(c.steps[1].hold_ms, 350);
  assert.deepEqual(c.tolerance, V2.oval_tolerance);
  assert.equal(c.stepTimeoutMs, 9000);
  assert.equal(c.light.colors[0].color, '#ff0000');
  assert.equal(c.light.settle, 0.4);
});

test('a v1 challenge (order only) still runs, with default ovals', () => {
  const c = readChallenge({ id: 'a', nonce: 'b', order: ['far', 'near'] });
  assert.deepEqual(c.steps.map((s) => s.role), ['far', 'near']);
  assert.ok(c.steps[1].oval.h / c.steps[0].oval.h >= 1.45);
  assert.equal(c.light, null);
  assert.deepEqual(c.tolerance, { ...DEFAULT_TOLERANCE });
  assert.throws(() => readChallenge({ id: 'a', nonce: 'b', order: ['up'] }));
  assert.throws(() => readChallenge({ ...V2, light: { colors: [{ color: 'red', ms: 300 }] } }));
});

test('light schedule: one window per colour inside [start + settle·ms, start + ms)', () => {
  const s = lightSchedule(readChallenge(V2).light.colors, 0.4);
  assert.deepEqual(s.map((w) => [w.start, w.windowStart, w.end]), [[0, 160, 400], [400, 520, 700], [700, 900, 1200], [1200, 1440, 1800]]);
});

test('oval geometry of the contract (§2)', () => {
  const oval = { cx: 0.5, cy: 0.5, h: 0.5 };
  const tol = { center: 0.1, size_min: 0.6, size_max: 1.1 };
  // box height 168 = 0.7·(0.5·480), centred
  assert.equal(ovalFit([236, 156, 404, 324], oval, tol, 640, 480).inside, true);
  assert.equal(ovalFit([280, 200, 360, 280], oval, tol, 640, 480).issue, 'far');
  assert.equal(ovalFit([150, 60, 490, 420], oval, tol, 640, 480).issue, 'close');
  // shifted by 0.11·H horizontally
  assert.equal(ovalFit([236 + 53, 156, 404 + 53, 324], oval, tol, 640, 480).issue, 'off');
});

test('eye openness from mesh lids: the server calibration (closed 0.16, wide 0.36)', () => {
  const mesh = new Float32Array(468 * 3);
  const put = (i, x, y) => { mesh[3 * i] = x; mesh[3 * i + 1] = y; };
  const eyes = [
    [[33, 133], [7, 163, 144, 145, 153, 154, 155], [246, 161, 160, 159, 158, 157, 173]],
    [[263, 362], [249, 390, 373, 374, 380, 381, 382], [466, 388, 387, 386, 385, 384, 398]],
  ];
  const make = (gap) => {
    for (const [c, lo, up] of eyes) {
      put(c[0], 0, 0); put(c[1], 100, 0);
      lo.forEach((i, k) => put(i, 10 * k, gap / 2));
      up.forEach((i, k) => put(i, 10 * k, -gap / 2));
    }
    return eyesOpenness(mesh);
  };
  assert.equal(make(36).status, 'OPEN');
  assert.ok(Math.abs(make(36).grade - 100) < 1e-4);
  assert.equal(make(10).status, 'CLOSED');
  assert.equal(make(10).grade, 0);
  assert.ok(Math.abs(make(26).grade - 50) < 1e-4);
});

test('device flags: virtual/fake/file labels, synthetic track, webdriver, headless, emulation', () => {
  const nav = { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36', maxTouchPoints: 0 };
  for (const label of ['OBS Virtual Camera', 'ManyCam Virtual Webcam', 'Dummy video device (0x0000)', 'XSplit VCam', 'Snap Camera', 'DroidCam Source 3', 'fake_device_0', '/tmp/video.y4m']) {
    assert.deepEqual(deviceFlags({ label, synthetic: false, navigator: nav }), ['virtual_camera_label'], label);
  }
  assert.deepEqual(deviceFlags({ label: 'Integrated Camera (04f2:b6dd)', synthetic: false, navigator: nav }), []);
  assert.deepEqual(deviceFlags({ label: 'Jobs HD Webcam', synthetic: false, navigator: nav }), []);
  assert.deepEqual(deviceFlags({ label: '', synthetic: true, navigator: { ...nav, webdriver: true, userAgent: 'Mozilla/5.0 HeadlessChrome/130.0' } }), ['no_camera_label', 'canvas_or_synthetic_track', 'webdriver', 'headless_user_agent']);
  assert.deepEqual(deviceFlags({ label: 'Front Camera', synthetic: false, navigator: { userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari', maxTouchPoints: 0 } }), ['emulated_device']);
  const info = deviceInfo({ label: 'Front Camera', settings: { width: 640, height: 480, frameRate: 30.0000001, deviceId: 'secret', groupId: 'g', facingMode: 'user' }, synthetic: false, navigator: { userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile', maxTouchPoints: 5, platform: 'iPhone' } });
  assert.equal(info.type, 'mobile');
  assert.deepEqual(info.track, { width: 640, height: 480, frameRate: 30, facingMode: 'user' });
  assert.deepEqual(info.flags, []);
  assert.deepEqual(trackSettings(null), {});
});

test('support check: the reference 100/103 reasons', () => {
  const ok = { userAgent: 'Mozilla/5.0 Chrome/130.0', webAssembly: true, subtleCrypto: true, textDecoder: true, getUserMedia: true, deviceMemory: 8 };
  assert.equal(unsupportedReason(ok), null);
  assert.equal(unsupportedReason({ ...ok, subtleCrypto: false }), 'ERROR_BROWSER_FEATURE_NOT_SUPPORTED');
  assert.equal(unsupportedReason({ ...ok, getUserMedia: false }), 'ERROR_WEBRTC_NOT_SUPPORTED');
  assert.equal(unsupportedReason({ ...ok, deviceMemory: 0.5 }), 'ERROR_DEVICE_NOT_SUPPORTED_MEMORY');
  assert.equal(unsupportedReason({ ...ok, userAgent: 'Mozilla/5.0 (Linux; Android 6.0) Chrome/90' }), 'ERROR_DEVICE_NOT_SUPPORTED_ANDROID');
  assert.equal(unsupportedReason({ ...ok, userAgent: 'Mozilla/5.0 Chrome/80.0' }), 'ERROR_BROWSER_VERSION_NOT_SUPPORTED');
  assert.equal(unsupportedReason({ ...ok, userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 14_0 like Mac OS X) CriOS/100' }), 'ERROR_PLATFORM_NOT_SUPPORTED_IOS');
});

test('preInitialize call shapes and forwarded headers', async () => {
  const base = 'https://app.example/page/';
  assert.deepEqual(normalizeEndpoint('https://s/api/v1/models', null, 'models'), { url: 'https://s/api/v1/models', headers: [] });
  assert.deepEqual(normalizeEndpoint({ URL: 'https://s/api/v1/models' }, null, 'models').url, 'https://s/api/v1/models');
  const pk = normalizeEndpoint(
    { URL: { url: 'https://s/api/v1/pub_key', headers: [{ name: 'LogAPITrigger', value: 'true' }, { name: 'requestID', value: 'sess-1' }] } },
    null, 'pubKey',
  );
  assert.deepEqual(pk.headers, [['LogAPITrigger', 'true'], ['requestID', 'sess-1']]);
  assert.deepEqual(normalizeEndpoint({ url: '/api/v1/pub_key', headers: [{ name: 'requestID', value: 'x' }] }, null, 'k').headers, [['requestID', 'x']]);
  assert.equal(normalizeEndpoint(undefined, '/api/v1/models', 'models').url, '/api/v1/models');
  assert.throws(() => normalizeEndpoint({ url: '/x', headers: [{ name: 'bad name', value: 'v' }] }, null, 'k'), TypeError);
  assert.throws(() => normalizeEndpoint(42, null, 'k'), TypeError);
  assert.equal(siblingUrl('/proxy/api/v1/models', 'time', base), 'https://app.example/proxy/api/v1/time');
  assert.equal(siblingUrl('https://s/api/v1/models?x=1', 'challenge', base), 'https://s/api/v1/challenge');
  assert.deepEqual(mergedHeaders({ url: '', headers: [['requestID', 'a']] }, { url: '', headers: [['requestid', 'b'], ['LogAPITrigger', 'true']] }), [['requestID', 'a'], ['LogAPITrigger', 'true']]);
  const seen = [];
  const fetchImpl = async (url, init) => { seen.push([url, init.method, init.headers]); return new Response('{}', { status: 200 }); };
  await post('https://s/api/v1/time', pk.headers, { fetchImpl });
  assert.deepEqual(seen[0], ['https://s/api/v1/time', 'POST', [['LogAPITrigger', 'true'], ['requestID', 'sess-1']]]);
  await assert.rejects(post('u', [], { fetchImpl: async () => { throw new TypeError('offline'); } }), (e) => e.code === 500 && e.message === 'ERROR_SERVER_CONNECTION_FAILURE');
  await assert.rejects(post('u', [], { fetchImpl: async () => new Response('', { status: 500 }), httpErrorKey: 'ERROR_FETCH_INTERNAL' }), (e) => e.code === 500 && e.message === 'ERROR_FETCH_INTERNAL');
});
