/**
 * faceproof demo: what the reference's demo project does, in plain ES modules.
 * Capture → /process, selfie-vs-selfie and selfie-vs-ID matching, verify-with-ID and
 * third-party liveness. The SDK is loaded from this server (`/sdk/faceproof.js`).
 * @module demo/app
 */

import * as api from './api.js';
import { h, renderBusy, renderError, renderFaceAs, renderMatch, renderProcess } from './render.js';
import { initSettings, sdkOptions } from './settings.js';

/** What the last action produced; the e2e harness reads it (`window.faceproofDemo.last`). */
const state = {
  last: null, challengeLog: [], quality: null, captureStats: null, sdk: null, preInit: null, busy: false,
};
window.faceproofDemo = state;

// ---------------------------------------------------------------------------------------
// Tabs (#capture, #selfie, #pictureid, #verify, #liveness)

const tabs = [...document.querySelectorAll('[role=tab]')];

function selectTab(tab, focus = false) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
  }
  if (focus) tab.focus();
  const name = tab.id.replace(/^tab-/, '');
  if (location.hash !== `#${name}`) history.replaceState(null, '', `${location.pathname}${location.search}#${name}`);
}

for (const t of tabs) {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(t);
    const next = e.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length]
      : e.key === 'ArrowLeft' ? tabs[(i - 1 + tabs.length) % tabs.length] : null;
    if (next) { e.preventDefault(); selectTab(next, true); }
  });
}
const fromHash = document.getElementById(`tab-${location.hash.slice(1)}`);
selectTab(fromHash && tabs.includes(fromHash) ? fromHash : tabs[0]);

// ---------------------------------------------------------------------------------------
// SDK: loaded lazily so the matching tabs work even when the SDK cannot load.

const initStatus = document.getElementById('init-status');

function notice(text, kind = 'bad') {
  initStatus.textContent = text;
  initStatus.className = `notice ${kind}`;
  initStatus.hidden = !text;
}

async function loadSdk() {
  if (!state.sdk) {
    state.sdk = import('/sdk/faceproof.js').catch((err) => {
      state.sdk = null;
      throw new api.DemoError(500, 'SDK_NOT_LOADED',
        `The capture SDK could not be loaded from /sdk/faceproof.js (${err?.message || err}). ` +
        'Run scripts/serve.sh (it installs the SDK\'s npm packages) and reload.');
    });
  }
  return state.sdk;
}

/** Models and the envelope key, fetched once per page (the reference's preInitialize). */
async function preInitialize() {
  if (!state.preInit) {
    state.preInit = (async () => {
      const sdk = await loadSdk();
      const headers = [{ name: 'LogAPITrigger', value: 'true' }, { name: 'requestID', value: sessionId }];
      try {
        await sdk.FaceSDK.preInitialize(
          { URL: { url: `${location.origin}/api/v1/models`, headers } },
          { URL: { url: `${location.origin}/api/v1/pub_key`, headers } },
        );
      } catch (err) {
        throw api.fromSdkError(err);
      }
      return sdk;
    })();
    state.preInit.catch(() => { state.preInit = null; }); // a later click retries
  }
  return state.preInit;
}

const sessionId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now());

/** onInputDevicesDetected: let the user pick a camera (allowCameraSelect). */
function pickCamera(devices) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('camera-picker'));
  const list = document.getElementById('camera-list');
  return new Promise((resolve) => {
    list.replaceChildren(...devices.map((d, i) => h('button', {
      type: 'button', class: 'secondary',
      onclick: () => { dialog.close(); resolve(d.deviceId); },
    }, d.label || `Camera ${i + 1}`)));
    dialog.addEventListener('close', () => resolve(devices[0]?.deviceId), { once: true });
    dialog.showModal();
  });
}

window.addEventListener('faceproof:challenge', (e) => {
  const d = /** @type {CustomEvent} */ (e).detail || {};
  state.challengeLog.push({ t: Math.round(performance.now()), ...d });
});

/** One SDK capture with the current settings; resolves with the blob and request flags. */
async function captureBlob() {
  const sdk = await preInitialize();
  state.challengeLog = [];
  state.quality = null;
  const events = {
    onImageQualityDetected: (q) => { state.quality = q; },
    onInputDevicesDetected: (devices) => pickCamera(devices),
  };
  const { options, enableQuality } = sdkOptions(sdk, events);
  let faceSdk = null;
  try {
    faceSdk = new sdk.FaceSDK(options);
    await faceSdk.initialize();
    const blob = await faceSdk.capture();
    return { blob, enableQuality };
  } catch (err) {
    throw api.fromSdkError(err);
  } finally {
    // Frames analysed, analysis time, time to first feedback, frame timeline (SDK stats).
    state.captureStats = faceSdk?.lastCaptureStats ?? null;
  }
}

// ---------------------------------------------------------------------------------------
// Actions

/**
 * Runs one action with a busy state, and records what happened for the harness.
 * @param {string} tab
 * @param {HTMLElement} container
 * @param {HTMLButtonElement|null} button
 * @param {() => Promise<void>} action renders the success itself
 */
async function run(tab, container, button, action) {
  if (state.busy) return;
  state.busy = true;
  state.last = null;
  state.captureStats = null;
  if (button) button.disabled = true;
  try {
    await action();
  } catch (e) {
    const err = e instanceof api.DemoError ? e : api.fromSdkError(e);
    renderError(container, err);
    state.last = { tab, ok: false, code: err.code, name: err.name, message: err.message, detail: err.detail ?? null, body: err.body ?? null };
  } finally {
    if (state.last && (tab === 'capture' || tab === 'verify')) {
      state.last.stats = state.captureStats;
      statsLine(container);
    }
    state.busy = false;
    if (button) button.disabled = false;
  }
}

function done(tab, body) {
  state.last = { tab, ok: true, code: body.code ?? 200, name: body.message || body.feedbackCode || 'OK', body };
}

/** A line under a capture's result: how the on-device analysis went. */
function statsLine(container) {
  const s = state.captureStats;
  if (!s || !s.analysed) return;
  const fps = s.analysisMs > 0 ? (1000 * s.analysed) / s.analysisMs : null;
  container.append(h('p', { class: 'muted small', 'data-stats': 'true' },
    `On-device analysis: ${s.analysed} frames` + (fps ? `, ${fps.toFixed(1)} frames/s` : '') +
    (s.firstFeedbackMs >= 0 ? `, first feedback after ${Math.round(s.firstFeedbackMs)} ms` : '') + '.'));
}

const captureResult = document.getElementById('capture-result');
const captureBtn = /** @type {HTMLButtonElement} */ (document.getElementById('capture-btn'));
captureBtn.addEventListener('click', () => run('capture', captureResult, captureBtn, async () => {
  renderBusy(captureResult, 'Capturing… follow the instructions on screen.');
  const { blob, enableQuality } = await captureBlob();
  renderBusy(captureResult, 'Processing on the server…');
  const body = await api.process(blob, enableQuality);
  renderProcess(captureResult, body);
  done('capture', body);
}));

/** Shows a preview of each chosen photo next to its input. */
for (const input of document.querySelectorAll('input[type=file]')) {
  input.addEventListener('change', () => {
    const img = /** @type {HTMLImageElement} */ (input.parentElement.querySelector('img'));
    const file = /** @type {HTMLInputElement} */ (input).files?.[0];
    if (img) {
      if (img.src) URL.revokeObjectURL(img.src);
      img.hidden = !file;
      if (file) img.src = URL.createObjectURL(file);
    }
  });
}

function fieldLabel(input) {
  return input.parentElement?.firstChild?.textContent?.trim() || input.name;
}

for (const formEl of document.querySelectorAll('form.match-form')) {
  const f = /** @type {HTMLFormElement} */ (formEl);
  const tab = f.id.replace(/-form$/, '');
  const out = document.getElementById(`${tab}-result`);
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const button = f.querySelector('button[type=submit]');
    run(tab, out, button, async () => {
      const [ia, ib] = ['image', 'imageToVerifyAgainst'].map((n) => /** @type {HTMLInputElement} */ (f.elements.namedItem(n)));
      const a = await api.readPhoto(ia.files?.[0], fieldLabel(ia));
      const b = await api.readPhoto(ib.files?.[0], fieldLabel(ib));
      renderBusy(out, 'Matching…');
      const body = await api.match(f.dataset.endpoint, a, b, /** @type {HTMLSelectElement} */ (f.elements.namedItem('level')).value);
      renderMatch(out, body);
      done(tab, body);
    });
  });
}

const verifyForm = /** @type {HTMLFormElement} */ (document.getElementById('verify-form'));
const verifyOut = document.getElementById('verify-result');
verifyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  run('verify', verifyOut, verifyForm.querySelector('button[type=submit]'), async () => {
    const input = /** @type {HTMLInputElement} */ (verifyForm.elements.namedItem('picID'));
    const picture = await api.readPhoto(input.files?.[0], 'ID portrait'); // checked before capturing
    renderBusy(verifyOut, 'Capturing… follow the instructions on screen.');
    const { blob } = await captureBlob();
    renderBusy(verifyOut, 'Checking liveness and matching…');
    const level = /** @type {HTMLSelectElement} */ (verifyForm.elements.namedItem('level')).value;
    const body = await api.verifyWithPictureId(blob, picture.base64, picture.format, level);
    renderMatch(verifyOut, body);
    done('verify', body);
  });
});

const livenessForm = /** @type {HTMLFormElement} */ (document.getElementById('liveness-form'));
const livenessOut = document.getElementById('liveness-result');
livenessForm.addEventListener('submit', (e) => {
  e.preventDefault();
  run('liveness', livenessOut, livenessForm.querySelector('button[type=submit]'), async () => {
    const input = /** @type {HTMLInputElement} */ (livenessForm.elements.namedItem('image'));
    const photo = await api.readPhoto(input.files?.[0], 'Face photo');
    renderBusy(livenessOut, 'Checking liveness…');
    const threshold = /** @type {HTMLSelectElement} */ (livenessForm.elements.namedItem('threshold')).value;
    const body = await api.faceAs(photo, threshold);
    renderFaceAs(livenessOut, body);
    done('liveness', body);
  });
});

initSettings();
// On a phone the long settings panel starts folded: the Capture button comes first.
if (window.matchMedia('(max-width: 699px)').matches) document.getElementById('settings').open = false;
// Fetch models and key in the background so the first capture starts quickly; a failure is
// shown now and retried on the next capture.
preInitialize().then(
  () => notice(''),
  (err) => notice(`${err.message}`),
);
document.body.dataset.ready = 'true';
