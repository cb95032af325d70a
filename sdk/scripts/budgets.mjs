#!/usr/bin/env node
/**
 * Measures the SDK's budgets (issue 9) and prints one JSON object:
 *  - sizes: the SDK's own JavaScript gzipped (budget ≤ 150 KB; LiteRT's JS and wasm and the
 *    models are reported apart), the models bundle (budget ≤ 6 MB);
 *  - in headless Chromium (playwright-core + /usr/bin/chromium): time from `capture()` to the
 *    first feedback on screen (budget ≤ 2 s) with Chromium's fake camera, and the in-browser
 *    analysis rate (detector + mesh + quality on real 640×480 video frames, budget ≥ 10/s).
 *
 * Usage: node sdk/scripts/budgets.mjs [--server URL] [--video FILE] [--seconds N]
 * Without --server it starts `faceproof serve` from ../.venv on a free port (temp data dir).
 * Numbers depend on the machine and its load: say which when quoting them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SDK = path.resolve(HERE, '..');
const REPO = path.resolve(SDK, '..');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const gz = (buf) => zlib.gzipSync(buf, { level: 9 }).length;
const kb = (n) => Math.round(n / 102.4) / 10;

function sizes() {
  const src = fs.readdirSync(path.join(SDK, 'src')).filter((f) => f.endsWith('.js')).sort();
  const all = Buffer.concat(src.map((f) => fs.readFileSync(path.join(SDK, 'src', f))));
  const perFile = src.reduce((s, f) => s + gz(fs.readFileSync(path.join(SDK, 'src', f))), 0);
  const lit = path.join(SDK, 'node_modules', '@litertjs');
  const core = fs.readFileSync(path.join(lit, 'core', 'dist', 'index.js'));
  const utils = fs.readFileSync(path.join(lit, 'wasm-utils', 'dist', 'index.js'));
  const loader = fs.readFileSync(path.join(lit, 'core', 'wasm', 'litert_wasm_internal.js'));
  const wasm = fs.readFileSync(path.join(lit, 'core', 'wasm', 'litert_wasm_internal.wasm'));
  return {
    sdk_js_files: src.length,
    sdk_js_raw_kb: kb(all.length),
    sdk_js_gzip_kb: kb(gz(all)),
    sdk_js_gzip_per_file_sum_kb: kb(perFile),
    litert_js_gzip_kb: kb(gz(Buffer.concat([core, utils]))),
    litert_wasm_loader_js_gzip_kb: kb(gz(loader)),
    litert_wasm_gzip_kb: kb(gz(wasm)),
  };
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startServer() {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-budgets-'));
  const env = {
    ...process.env,
    FACEPROOF_DATA_DIR: dataDir,
    FACEPROOF_MODEL_DIR: process.env.FACEPROOF_MODEL_DIR || path.join(REPO, 'var', 'models'),
  };
  const proc = spawn(path.join(REPO, '.venv', 'bin', 'faceproof'), ['serve', '--port', String(port)], { env, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${url}/api/v1/face_health`)).ok) return { url, stop: () => { proc.kill(); fs.rmSync(dataDir, { recursive: true, force: true }); } };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  proc.kill();
  throw new Error('faceproof serve did not start');
}

async function browserBudgets(server, video, seconds) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 750 } });
    const pageUrl = `${server}/__budgets__/page.html`;
    await page.route(pageUrl, (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><meta charset="utf-8"><title>budgets</title><body></body>' }));
    await page.route(`${server}/__budgets__/video.webm`, (r) => r.fulfill({ contentType: 'video/webm', body: fs.readFileSync(video) }));
    await page.goto(pageUrl);
    return await page.evaluate(async ({ seconds }) => {
      const { FaceSDK } = await import('/sdk/faceproof.js');
      const t0 = performance.now();
      await FaceSDK.preInitialize('/api/v1/models', '/api/v1/pub_key');
      const sdk = new FaceSDK({ enableAs: false, captureTimeout: 4000, skipSupportCheck: true });
      await sdk.initialize();
      const initializeMs = performance.now() - t0;
      // Time to first feedback: capture() → the label shows a guidance message.
      let firstFeedbackMs = -1;
      const c0 = performance.now();
      const watch = setInterval(() => {
        const key = document.querySelector('#fp-feedback')?.dataset.key;
        if (firstFeedbackMs < 0 && key && key !== 'FEEDBACK_INITIALIZATION') firstFeedbackMs = performance.now() - c0;
      }, 5);
      let outcome;
      try {
        await sdk.capture();
        outcome = 'captured';
      } catch (e) {
        outcome = e.message; // the fake camera shows no face: FEEDBACK_CAPTURE_TIMEOUT
      }
      clearInterval(watch);

      // Analysis rate on real frames: the SDK's analyzer on a playing video, back to back.
      const { loadBundle } = await import('/sdk/bundle.js');
      const { loadRuntime } = await import('/sdk/runtime.js');
      const { Analyzer, ctx2d, makeCanvas } = await import('/sdk/analyzer.js');
      const { assess, DEFAULT_OVAL, DEFAULT_TOLERANCE } = await import('/sdk/quality.js');
      const models = await loadBundle(await (await fetch('/api/v1/models', { method: 'POST' })).arrayBuffer());
      const an = await Analyzer.create(await loadRuntime(new URL('/sdk/', location.href).href), models);
      const v = document.createElement('video');
      v.muted = true;
      v.loop = true;
      v.src = '/__budgets__/video.webm';
      await v.play();
      const frame = makeCanvas(640, 480);
      const fc = ctx2d(frame);
      let n = 0, faces = 0, detect = 0, mesh = 0;
      const start = performance.now();
      while (performance.now() - start < seconds * 1000) {
        fc.drawImage(v, 0, 0, 640, 480);
        const a = await an.analyze(frame, fc, 640, 480);
        assess(a, { oval: DEFAULT_OVAL, tolerance: DEFAULT_TOLERANCE, eyes: true });
        n++;
        if (a.detections.length) faces++;
        detect += a.timings.detect;
        mesh += a.timings.mesh;
      }
      const elapsed = performance.now() - start;
      return {
        initialize_ms: Math.round(initializeMs),
        first_feedback_ms: Math.round(firstFeedbackMs),
        first_feedback_ms_sdk: Math.round(sdk.lastCaptureStats?.firstFeedbackMs ?? -1),
        first_feedback_phases_ms: sdk.lastCaptureStats?.phasesMs ?? null,
        capture_outcome_fake_camera: outcome,
        analysis_fps: Math.round((10 * n * 1000) / elapsed) / 10,
        analysis_frames: n,
        frames_with_face: faces,
        detector_ms_mean: Math.round((10 * detect) / n) / 10,
        mesh_ms_mean: Math.round((10 * mesh) / n) / 10,
      };
    }, { seconds });
  } finally {
    await browser.close();
  }
}

const out = { sizes: sizes(), budgets: { sdk_js_gzip_kb: 150, models_bundle_mb: 6, first_feedback_ms: 2000, analysis_fps: 10 } };
let server = arg('server', null);
let stop = () => {};
try {
  if (!server) ({ url: server, stop } = await startServer());
  const bundle = Buffer.from(await (await fetch(`${server}/api/v1/models`, { method: 'POST' })).arrayBuffer());
  out.sizes.models_bundle_mb = Math.round((bundle.length / 1048576) * 100) / 100;
  const video = arg('video', path.join(REPO, '..', 'shared', 'data', 'video', 'apfol__real2__live.webm'));
  out.browser = await browserBudgets(server, video, Number(arg('seconds', '8')));
  out.machine = { cpus: os.cpus().length, loadavg_1m: Math.round(os.loadavg()[0] * 100) / 100 };
  out.pass = {
    sdk_js: out.sizes.sdk_js_gzip_kb <= 150,
    models_bundle: out.sizes.models_bundle_mb <= 6,
    first_feedback: out.browser.first_feedback_ms >= 0 && out.browser.first_feedback_ms <= 2000,
    analysis_fps: out.browser.analysis_fps >= 10,
  };
} finally {
  stop();
}
console.log(JSON.stringify(out));
