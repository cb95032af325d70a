/**
 * The e2e harness: drives the demo app (`/demo`) in Debian's Chromium with playwright-core,
 * with one of four cameras, and returns the server's answer as plain data.
 *
 * Cameras:
 *  - "reactive": getUserMedia replaced by a canvas stream playing real footage that follows
 *    the SDK's challenge events (reactive-camera.js);
 *  - "plain": Chromium's fake camera playing the video file (cannot follow any challenge),
 *    framed by default so that its face sits in the SDK's default oval (--no-fit: raw);
 *  - "default": Chromium's built-in synthetic fake camera (no face at all);
 *  - "deny": a camera exists but the permission is refused;
 *  - "none": no camera set-up (photo-upload scenarios).
 * Scenarios: "capture" (Capture tab → /process), "close" (close the dialog), "match" (selfie
 * vs selfie tab with two photos), "pictureid" (selfie vs ID tab, two photos), "verify" (Verify-with-ID tab: an ID photo plus a capture),
 * "liveness" (third-party liveness tab with one photo), "docs" (Swagger UI at /docs renders).
 * Every run is offline: requests to any other origin than the server are refused and listed
 * in `external_requests`.
 * @module e2e/harness
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { DEFAULT_OVAL, DEFAULT_TOLERANCE } from '../../src/quality.js';
import { approach, HEIGHT, reactiveFootage, REPO, WIDTH, y4m } from './footage.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const BASE_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
export const DEFAULT_VIDEO = path.join(REPO, '..', 'shared', 'data', 'video', 'apfol__real2__live.webm');
export const DEFAULT_ARTIFACTS = path.join(REPO, 'var', 'test-artifacts');

/**
 * @typedef {object} ScenarioOptions
 * @property {string} server base URL, e.g. http://127.0.0.1:8121
 * @property {string} [video] footage for the reactive/plain camera
 * @property {'reactive'|'plain'|'default'|'deny'|'none'} [camera]
 * @property {'capture'|'close'|'timeout'|'match'|'pictureid'|'verify'|'liveness'|'docs'} [scenario]
 * @property {number} [captureTimeout] seconds (the SDK option)
 * @property {string[]} [images] photos for match (two), verify (one ID) or liveness (one)
 * @property {string} [artifacts] directory for screenshots ('' = none)
 * @property {string} [name] file-name prefix of the screenshots
 * @property {number} [seed] reactive camera's random seed
 * @property {number} [gain] screen-light gain of the reactive camera (fraction of the colour)
 * @property {number} [noise] sensor noise σ in grey levels
 * @property {{width: number, height: number}} [viewport]
 * @property {Record<string, string>} [settings] extra demo settings (?name=value)
 * @property {boolean} [fit] plain camera: frame the recording for the default oval (default true)
 */

/** @param {ScenarioOptions} opts */
export async function runScenario(opts) {
  const o = {
    video: DEFAULT_VIDEO, camera: 'reactive', scenario: 'capture', captureTimeout: 45,
    artifacts: DEFAULT_ARTIFACTS, seed: Date.now() % 100000, gain: 0.08, noise: 1.5,
    viewport: { width: 1280, height: 800 }, settings: {}, images: [], fit: true, ...opts,
  };
  o.server = o.server.replace(/\/+$/, '');
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-e2e-run-'));
  const result = {
    scenario: o.scenario, camera: o.camera,
    video: ['reactive', 'plain'].includes(o.camera) ? path.basename(o.video) : null,
  };
  const consoleErrors = [];
  const events = [];
  let challengeIssued = null;
  let context;
  try {
    const args = [...BASE_FLAGS];
    let permissions = [];
    if (o.camera === 'plain') {
      const fit = o.fit ? reactiveFootage(o.video) : null;
      args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-video-capture=${y4m(o.video, tmp, fit, fitOval())}`);
      result.fit = Boolean(fit);
    } else if (o.camera === 'default') {
      args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream');
    } else if (o.camera === 'deny') {
      args.push('--use-fake-device-for-media-stream'); // no fake UI and no grant: refused
    } else if (o.camera === 'reactive') {
      permissions = ['camera'];
    } else if (o.camera !== 'none') {
      throw new Error(`unknown camera ${o.camera}`);
    }
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM, headless: true, args, permissions, viewport: o.viewport,
    });
    // Offline: anything not from the server under test (a CDN, a font, telemetry) is refused
    // and reported; the demo, the SDK and /docs must work without it.
    const external = new Set();
    result.external_requests = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${o.server}/`) || /^(data|blob):/.test(url)) return route.continue();
      if (!external.has(url)) { external.add(url); result.external_requests.push(url.slice(0, 200)); }
      return route.abort('blockedbyclient');
    });
    if (o.camera === 'reactive') await installReactiveCamera(context, o, result);
    await context.exposeBinding('__e2eEvent', (_src, detail) => { events.push({ t: Date.now() - started, at: Date.now(), ...detail }); });
    await context.addInitScript(() => {
      window.addEventListener('faceproof:challenge', (e) => { window.__e2eEvent?.(e.detail ?? null); });
    });
    const page = context.pages()[0] || await context.newPage();
    // Diagnostics only (never used by the cameras): the issued challenge, to say which
    // timing rule a refused capture broke.
    page.on('response', async (res) => {
      if (!res.url().endsWith('/api/v1/challenge')) return;
      try { challengeIssued = (await res.json())?.challenge ?? null; } catch { /* ignore */ }
    });
    page.on('console', (m) => {
      // LiteRT's wasm logs INFO/WARNING lines on the error channel: not errors.
      if (m.type() === 'error' && !/^(INFO|WARNING): /.test(m.text())) consoleErrors.push(m.text().slice(0, 300));
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${String(e).slice(0, 300)}`));

    const flow = {
      capture: captureFlow, close: captureFlow, timeout: captureFlow,
      match: matchFlow, pictureid: matchFlow, verify: verifyFlow, liveness: livenessFlow, docs: docsFlow,
    }[o.scenario];
    if (!flow) throw new Error(`unknown scenario ${o.scenario}`);
    const shots = [];
    const last = await flow(page, o, events, shots);
    Object.assign(result, summarise(last));
    if (last?.stats) result.sdk = sdkStats(last.stats, challengeIssued);
    result.screenshots = [];
    for (const shot of shots) result.screenshots.push({ ...shot, std: await imageStd(context, shot.path) });
  } catch (err) {
    result.error = String(err?.stack || err).split('\n').slice(0, 3).join(' | ');
  } finally {
    result.events = countPhases(events);
    if (consoleErrors.length && (result.error || result.code !== 200)) result.console = consoleErrors.slice(-8);
    result.elapsed_ms = Date.now() - started;
    await context?.close().catch(() => {});
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return result;
}

async function installReactiveCamera(context, o, result) {
  const footage = reactiveFootage(o.video);
  const way = approach(footage.frames);
  result.approach = way;
  const cfg = {
    width: WIDTH, height: HEIGHT, fps: footage.fps, base: `${o.server}/__e2e__/frames`,
    frames: footage.frames.map((f) => ({ file: f.file, box: f.box })),
    far: way.far, near: way.near,
    // Before any event and for the main frame: the far pose (frontal), at its natural size.
    start: way.far,
    moveMs: 800, latencyFrames: [1, 2], gain: o.gain, noise: o.noise, seed: o.seed,
    label: 'faceproof e2e reactive camera',
  };
  await context.route(`${o.server}/__e2e__/frames/*`, (route) => {
    const name = path.basename(new URL(route.request().url()).pathname);
    if (!/^\d{5}\.jpg$/.test(name)) return route.fulfill({ status: 404, body: '' });
    return route.fulfill({ path: path.join(footage.dir, name), contentType: 'image/jpeg' });
  });
  const script = fs.readFileSync(path.join(HERE, 'reactive-camera.js'), 'utf8');
  await context.addInitScript({ content: `const __E2E_CAMERA__ = ${JSON.stringify(cfg)};\n${script}` });
}

/** The middle of the SDK's default oval and size tolerance (the SDK's own constants). */
function fitOval() {
  const { cx, cy, h } = DEFAULT_OVAL;
  return { cx, cy, h: h * (DEFAULT_TOLERANCE.size_min + DEFAULT_TOLERANCE.size_max) / 2 };
}

function demoUrl(o, tab) {
  const q = new URLSearchParams({
    captureTimeout: String(o.captureTimeout), requiredTemplates: 'JPEG,PNG,ISO_19794_5',
    enableICAOChecks: 'true', showCaptureTraining: 'false', ...o.settings,
  });
  return `${o.server}/demo/?${q}#${tab}`;
}

async function waitResult(page, id, timeoutMs) {
  await page.waitForFunction((sel) => {
    const el = document.getElementById(sel);
    return el && (el.dataset.state === 'done' || el.dataset.state === 'error');
  }, id, { timeout: timeoutMs, polling: 200 });
  return page.evaluate(() => window.faceproofDemo?.last ?? null);
}

function shotPath(o, what) {
  if (!o.artifacts) return null;
  fs.mkdirSync(o.artifacts, { recursive: true });
  const prefix = o.name || `${o.scenario}-${o.camera}`;
  return path.join(o.artifacts, `${prefix}-${what}.png`);
}

const started = (e) => e.at;

async function captureFlow(page, o, events, shots) {
  await page.goto(demoUrl(o, 'capture'));
  await page.waitForSelector('body[data-ready=true]');
  await page.click('#capture-btn');
  const dialogShot = shotPath(o, 'dialog');
  // The capture dialog, shot once the camera is on screen: 0.3 s after the first challenge
  // oval, or 2.5 s into the main step when no oval comes (a timeout or close scenario).
  const busy = () => page.evaluate(() => document.getElementById('capture-result')?.dataset.state === 'busy');
  const shotDialog = (async () => {
    const t0 = Date.now();
    for (;;) {
      const main = events.find((e) => e?.phase === 'main');
      if (events.some((e) => e?.phase === 'oval')) break;
      if (main && Date.now() - started(main) > 2500) break;
      if (Date.now() - t0 > 60000 || !(await busy())) return;
      await page.waitForTimeout(100);
    }
    await page.waitForTimeout(300);
    if (dialogShot && (await busy())) {
      await page.screenshot({ path: dialogShot });
      shots.push({ what: 'dialog', path: dialogShot });
    }
  })().catch(() => {});
  if (o.scenario === 'close') {
    await shotDialog; // the dialog is up and the camera running
    await page.waitForTimeout(500);
    const dialog = page.locator('[role=dialog]:visible, dialog[open]').last();
    const button = dialog.getByRole('button', { name: /close|cerrar/i }).first();
    if (await button.count()) await button.click();
    else await page.keyboard.press('Escape');
  }
  const last = await waitResult(page, 'capture-result', (o.captureTimeout + 90) * 1000);
  await shotDialog;
  await resultShot(page, o, shots, 'capture-result');
  return last;
}

async function resultShot(page, o, shots, id) {
  const p = shotPath(o, 'result');
  if (!p) return;
  await page.locator(`#${id}`).scrollIntoViewIfNeeded().catch(() => {});
  await page.screenshot({ path: p, fullPage: true });
  shots.push({ what: 'result', path: p });
}

async function matchFlow(page, o, _events, shots) {
  if (o.images.length !== 2) throw new Error(`${o.scenario} needs two --image files`);
  const tab = o.scenario === 'pictureid' ? 'pictureid' : 'selfie';
  await page.goto(demoUrl(o, tab));
  await page.waitForSelector('body[data-ready=true]');
  await page.setInputFiles(`#${tab}-form input[name=image]`, o.images[0]);
  await page.setInputFiles(`#${tab}-form input[name=imageToVerifyAgainst]`, o.images[1]);
  await page.click(`#${tab}-form button[type=submit]`);
  const last = await waitResult(page, `${tab}-result`, 60000);
  await resultShot(page, o, shots, `${tab}-result`);
  return last;
}

async function verifyFlow(page, o, _events, shots) {
  if (o.images.length !== 1) throw new Error('verify needs one --image (the ID portrait)');
  await page.goto(demoUrl(o, 'verify'));
  await page.waitForSelector('body[data-ready=true]');
  await page.setInputFiles('#verify-form input[name=picID]', o.images[0]);
  await page.click('#verify-form button[type=submit]');
  const last = await waitResult(page, 'verify-result', (o.captureTimeout + 90) * 1000);
  await resultShot(page, o, shots, 'verify-result');
  return last;
}

async function livenessFlow(page, o, _events, shots) {
  if (o.images.length !== 1) throw new Error('liveness needs one --image');
  await page.goto(demoUrl(o, 'liveness'));
  await page.waitForSelector('body[data-ready=true]');
  await page.setInputFiles('#liveness-form input[name=image]', o.images[0]);
  await page.click('#liveness-form button[type=submit]');
  const last = await waitResult(page, 'liveness-result', 60000);
  await resultShot(page, o, shots, 'liveness-result');
  return last;
}

/** /docs: Swagger UI renders the API from the server's own assets. */
async function docsFlow(page, o, _events, shots) {
  await page.goto(`${o.server}/docs`);
  await page.waitForSelector('.opblock', { timeout: 30000 });
  const operations = await page.locator('.opblock').count();
  const p = shotPath(o, 'result');
  if (p) {
    await page.screenshot({ path: p });
    shots.push({ what: 'result', path: p });
  }
  return { ok: true, code: 200, name: 'DOCS_RENDERED', body: { operations } };
}

/** The server's (or the SDK's) answer, without images. */
function summarise(last) {
  if (!last) return { code: null, message: 'no result recorded by the demo' };
  const body = last.body || {};
  const out = { code: last.code, message: last.name };
  if (!last.ok) out.description = last.message;
  const data = body.data || {};
  const lv = body.liveness ?? data.liveness;
  if (lv) {
    out.decision = lv.decision;
    out.reasons = lv.reasons;
    out.passive_score = lv.passive_score;
    out.challenge = lv.challenge;
    if (lv.device_flags) out.device_flags = lv.device_flags;
  }
  if (data.as_highest_security_level_reached !== undefined) out.level = data.as_highest_security_level_reached;
  const templates = data.templates || data.encrypted_templates;
  if (templates) out.templates = Object.keys(templates);
  if (body.icao_data) out.icao_compliant = body.icao_data.is_compliant;
  for (const k of ['operations', 'possibleMatch', 'similarityScore', 'matchHighestSecurityLevelReached', 'is_spoof', 'score', 'as_highest_security_level_reached']) {
    if (body[k] !== undefined) out[k] = body[k];
  }
  if (body.refid) out.refid = body.refid;
  return out;
}

/**
 * The SDK's capture stats (frames analysed, analysis rate, first feedback) and, against the
 * issued challenge, the timing rules of the contract (§3): each step's first frame at least
 * its hold after the frame before it, each light frame inside its colour's window.
 */
function sdkStats(stats, ch) {
  const out = {
    analysed: stats.analysed,
    analysis_fps: stats.analysisMs > 0 ? Math.round((10000 * stats.analysed) / stats.analysisMs) / 10 : null,
    first_feedback_ms: stats.firstFeedbackMs >= 0 ? Math.round(stats.firstFeedbackMs) : null,
  };
  const tl = stats.timeline;
  if (!Array.isArray(tl)) return out;
  const timing = {};
  const unordered = tl.findIndex((f, i) => i > 0 && !(f.t > tl[i - 1].t));
  if (unordered > 0) timing.not_increasing = [tl[unordered - 1], tl[unordered]];
  if (!ch) return { ...out, timing };
  for (const step of ch.steps || []) {
    const i = tl.findIndex((f) => f.role === step.role);
    if (i > 0) timing[`${step.role}_hold_ms`] = [tl[i].t - tl[i - 1].t, step.hold_ms];
  }
  const light = tl.filter((f) => f.role === 'light');
  if (ch.light && Number.isInteger(stats.light_start_t)) {
    let start = stats.light_start_t;
    timing.light_in_window = ch.light.colors.map((c, k) => {
      const lo = start + ch.light.settle * c.ms;
      const hi = start + c.ms;
      start += c.ms;
      const t = light[k]?.t;
      return t !== undefined && lo <= t && t < hi;
    });
  }
  out.timing = timing;
  return out;
}

function countPhases(events) {
  const counts = {};
  for (const e of events) {
    const k = e?.phase === 'oval' ? `oval:${e.role}` : e?.phase || 'unknown';
    counts[k] = (counts[k] || 0) + 1;
  }
  return counts;
}

/** Standard deviation of the luminance of a PNG (0 = blank), measured in a browser page. */
async function imageStd(context, file) {
  const page = await context.newPage();
  try {
    const b64 = fs.readFileSync(file).toString('base64');
    return await page.evaluate(async (data) => {
      const blob = await (await fetch(`data:image/png;base64,${data}`)).blob();
      const bm = await createImageBitmap(blob);
      const c = new OffscreenCanvas(bm.width, bm.height);
      const g = c.getContext('2d');
      g.drawImage(bm, 0, 0);
      const px = g.getImageData(0, 0, bm.width, bm.height).data;
      let s = 0; let s2 = 0; let n = 0;
      for (let i = 0; i < px.length; i += 16) {
        const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
        s += y; s2 += y * y; n++;
      }
      const m = s / n;
      return Math.round(Math.sqrt(Math.max(0, s2 / n - m * m)) * 100) / 100;
    }, b64);
  } finally {
    await page.close();
  }
}
