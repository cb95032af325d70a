/**
 * Result views: decision, liveness checks, quality/ICAO, templates as images, raw JSON.
 * Each view marks its container with `data-state` ("done" | "error" | "busy") and
 * `data-code`, which the e2e harness reads.
 * @module demo/render
 */

import { base64ToBytes, hintFor } from './api.js';

/** Plain-language meaning of the liveness reason names (docs/liveness.md). */
const REASONS = {
  challenge_missing: 'the capture carried no challenge',
  challenge_unknown_or_used: 'the challenge is unknown or was already used',
  nonce_not_bound: 'the capture is not bound to the challenge',
  challenge_expired: 'the challenge expired',
  frames_outside_challenge_window: 'frames were taken outside the challenge window',
  wrong_order: 'the far/near steps came in the wrong order',
  implausible_timing: 'a frame was taken outside its step or colour window (timing)',
  frames_not_in_time_order: 'the frames are not in time order',
  frames_spliced: 'the frames do not come from one camera stream',
  challenge_frames_missing: 'challenge frames are missing',
  no_face_in_frame: 'a challenge frame has no face',
  face_not_in_oval: 'the face was not inside the requested oval',
  not_closer_enough: 'the face did not come close enough',
  planar_motion: 'the face moved like a flat picture (no 3-D motion)',
  identity_changed: 'the person changed during the capture',
  light_frames_missing: 'screen-light frames are missing',
  light_not_followed: 'the face did not reflect the colours shown on screen',
  light_too_weak: 'the room is too bright for the screen-light check: retry in softer light',
  passive_below_floor: 'the passive liveness score is too low',
};

/**
 * Tiny element builder.
 * @param {string} tag
 * @param {Record<string, any>|null} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'id') el.setAttribute(k, String(v));
    else el[k] = v;
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmt(v, digits = 3) {
  if (v == null) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.map((x) => fmt(x, digits)).join(', ');
  return String(v);
}

function badge(ok, yes = 'passed', no = 'failed') {
  if (ok == null) return h('span', { class: 'badge neutral', text: 'n/a' });
  return h('span', { class: `badge ${ok ? 'ok' : 'bad'}`, text: ok ? yes : no });
}

function table(rows, head) {
  return h('table', { class: 'kv' },
    head ? h('thead', null, h('tr', null, head.map((x) => h('th', { scope: 'col', text: x })))) : null,
    h('tbody', null, rows.map((r) => h('tr', null,
      h('th', { scope: 'row', text: r[0] }),
      r.slice(1).map((c) => h('td', null, c instanceof Node ? c : fmt(c)))))));
}

function section(title, ...body) {
  return h('section', { class: 'card' }, h('h3', { text: title }), ...body);
}

/** Raw JSON with long base64 strings shortened for reading, plus the full text to download. */
function rawJson(body) {
  const shortened = JSON.stringify(body, (k, v) =>
    typeof v === 'string' && v.length > 160 ? `${v.slice(0, 60)}… (${v.length} chars)` : v, 2);
  const full = JSON.stringify(body, null, 2);
  const url = URL.createObjectURL(new Blob([full], { type: 'application/json' }));
  return h('details', { class: 'card raw' },
    h('summary', { text: 'Raw JSON' }),
    h('pre', { class: 'json', 'data-raw': 'true', text: shortened }),
    h('a', { href: url, download: `${body?.refid || 'faceproof'}.json`, text: 'Download the full JSON' }));
}

/** An <img> for a base64 template; ISO 19794-5 records show the JPEG they embed. */
function templateImage(name, b64) {
  const bytes = base64ToBytes(b64);
  if (!bytes) return h('figure', { class: 'tpl' }, h('figcaption', { text: `${name}: not base64` }));
  let type = null;
  let data = bytes;
  if (name === 'PNG') type = 'image/png';
  else if (name === 'JPEG' || name === 'aligned' || name === 'image') type = 'image/jpeg';
  else {
    // ISO/IEC 19794-5: a binary record whose image data is a JPEG (or JPEG 2000) stream.
    for (let i = 0; i + 2 < bytes.length; i++) {
      if (bytes[i] === 0xff && bytes[i + 1] === 0xd8 && bytes[i + 2] === 0xff) {
        data = bytes.subarray(i);
        type = 'image/jpeg';
        break;
      }
    }
  }
  const caption = `${name} (${(bytes.length / 1024).toFixed(1)} KB)`;
  if (!type) return h('figure', { class: 'tpl' }, h('figcaption', { text: `${caption}: binary record` }));
  const url = URL.createObjectURL(new Blob([data], { type }));
  return h('figure', { class: 'tpl' }, h('img', { src: url, alt: `${name} template` }), h('figcaption', { text: caption }));
}

function templatesBlock(title, templates, extra = {}) {
  const entries = Object.entries({ ...(templates || {}), ...extra }).filter(([, v]) => typeof v === 'string');
  if (!entries.length) return null;
  return section(title, h('div', { class: 'templates' }, entries.map(([k, v]) => templateImage(k, v))));
}

function encryptedBlock(enc) {
  if (!enc) return null;
  return section('Encrypted templates',
    h('p', { text: 'Templates are encrypted for the integrator\'s key (TEMPLATE_ENCRYPTION_ENABLED); only sizes are shown.' }),
    table(Object.entries(enc).map(([k, v]) => [k, `${String(v).length} chars`])));
}

/** The contract's `liveness` block: decision, reasons and each challenge check's statistics. */
export function livenessBlock(lv) {
  if (!lv) return null;
  const parts = [
    table([
      ['decision', h('span', { class: `badge ${lv.decision === 'live' ? 'ok' : 'bad'}`, text: lv.decision ?? '—' })],
      ['passive score', lv.passive_score],
      ...(Array.isArray(lv.device_flags) && lv.device_flags.length ? [['device flags', lv.device_flags.join(', ')]] : []),
    ]),
  ];
  if (Array.isArray(lv.reasons) && lv.reasons.length) {
    parts.push(h('ul', { class: 'reasons', 'data-reasons': lv.reasons.join(' ') },
      lv.reasons.map((r) => {
        const [name, flag] = String(r).split(':');
        const text = name === 'insecure_device' ? `insecure camera feed (${flag})` : REASONS[name] || '';
        return h('li', null, h('code', { text: r }), text ? ` — ${text}` : '');
      })));
  }
  const ch = lv.challenge;
  if (ch) {
    const mc = ch.move_closer || {};
    const sl = ch.screen_light || {};
    const inOval = Array.isArray(mc.in_oval) ? mc.in_oval.map((x) => (x ? '✓' : '✗')).join(' ') : '—';
    parts.push(h('h4', null, 'Challenge ', badge(ch.passed)));
    parts.push(table([
      ['move closer', badge(mc.passed), ''],
      ['  scale ratio (near/far)', mc.scale_ratio, ''],
      ['  planarity (log plane/rigid)', mc.planarity, ''],
      ['  photometric residual', mc.photometric, ''],
      ['  min identity', mc.min_identity, ''],
      ['  face in oval', inOval, ''],
      ['screen light', badge(sl.passed), ''],
      ['  statistic', sl.statistic, `threshold ${fmt(sl.threshold)}`],
      ['  ambient contrast', sl.contrast, `minimum ${fmt(sl.min_contrast)}`],
    ], ['check', 'value', 'limit']));
  } else {
    parts.push(h('p', { class: 'muted', text: 'No challenge in this capture (passive score only).' }));
  }
  return section('Liveness', ...parts);
}

function qualityBlock(q) {
  if (!q) return null;
  return section('Quality', table(Object.entries(q).map(([k, v]) => [k, typeof v === 'boolean' ? badge(v, 'yes', 'no') : v])));
}

function icaoBlock(icao) {
  if (!icao) return null;
  const rows = Object.entries(icao).filter(([k]) => k !== 'templates').map(([k, v]) => {
    if (typeof v === 'boolean') return [k, badge(k === 'multiple_faces' ? !v : v, String(v), String(v))];
    if (typeof v === 'number') return [k, h('span', { class: 'meter' }, h('meter', { min: 0, max: 100, value: v }), ` ${fmt(v, 1)}`)];
    return [k, v];
  });
  return h('div', null,
    section(`ICAO ${icao.is_compliant ? '— compliant' : '— not compliant'}`, table(rows)),
    templatesBlock('ICAO templates', icao.templates));
}

function banner(ok, title, detail) {
  return h('div', { class: `banner ${ok ? 'ok' : 'bad'}`, role: 'status' },
    h('strong', { text: title }), detail ? h('p', { text: detail }) : null);
}

function finish(container, state, code, nodes) {
  container.replaceChildren(...nodes.filter(Boolean));
  container.dataset.state = state;
  container.dataset.code = code == null ? '' : String(code);
  container.scrollIntoView({ block: 'start', behavior: 'instant' });
}

/** While a request or capture runs. */
export function renderBusy(container, text) {
  container.replaceChildren(h('div', { class: 'banner busy', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text));
  container.dataset.state = 'busy';
  container.dataset.code = '';
}

/** The /process (or /verifyWithPictureId liveness-refused) success view. */
export function renderProcess(container, body) {
  const d = body.data || {};
  const level = d.as_highest_security_level_reached;
  finish(container, 'done', body.code, [
    banner(true, `Accepted — ${body.message} (${body.code})`,
      `Liveness level reached: ${level ?? 'none (liveness off, or below LOW)'}` +
      (Array.isArray(d.spoof_score) ? ` · score ${fmt(d.spoof_score[0])}` : '') +
      (d.as_status ? ` · ${d.as_status}` : '')),
    table([
      ['refid', body.refid],
      ['level reached', level ?? 'none'],
      ['resolution', d.resolution],
      ['capture date', d.capture_date],
      ['upload_ts (ms)', body.upload_ts],
    ]),
    livenessBlock(body.liveness ?? d.liveness),
    qualityBlock(d.quality),
    templatesBlock('Templates', d.templates, d.aligned ? { aligned: d.aligned } : {}),
    encryptedBlock(d.encrypted_templates),
    icaoBlock(body.icao_data),
    rawJson(body),
  ]);
}

/** Match endpoints (and /verifyWithPictureId once the capture passed liveness). */
export function renderMatch(container, body) {
  const ok = Boolean(body.possibleMatch);
  finish(container, 'done', body.code, [
    banner(ok, ok ? 'Same person (possibleMatch: true)' : 'Not a match at this level (possibleMatch: false)',
      `similarityScore ${body.similarityScore} / 100 · highest level reached: ${body.matchHighestSecurityLevelReached}`),
    h('div', { class: 'similarity' }, h('meter', { min: 0, max: 100, low: 60, high: 80, optimum: 100, value: body.similarityScore }), h('span', { text: `${body.similarityScore}%` })),
    table([
      ['feedbackCode', body.feedbackCode],
      ['refid', body.refid],
      ['score (distance)', body.score],
      ['multipleFacesImage', body.multipleFacesImage],
      ...(body.multipleFacesImageToVerifyAgainst != null ? [['multipleFacesImageToVerifyAgainst', body.multipleFacesImageToVerifyAgainst]] : []),
    ]),
    livenessBlock(body.liveness),
    rawJson(body),
  ]);
}

/** /face/as. */
export function renderFaceAs(container, body) {
  const live = body.is_spoof === false;
  finish(container, 'done', body.code ?? 200, [
    banner(live, live ? 'Live' : 'Spoof',
      `score ${fmt(body.score)} · highest level reached: ${body.as_highest_security_level_reached ?? 'none'}`),
    table([
      ['is_spoof', body.is_spoof],
      ['score', body.score],
      ['as_highest_security_level_reached', body.as_highest_security_level_reached ?? 'none'],
      ['refid', body.refid],
    ]),
    templatesBlock('Input', body.input?.image ? { image: body.input.image } : null),
    rawJson(body),
  ]);
}

/**
 * Any failure: SDK error, HTTP error or refusal. A refusal with a body (401 FEEDBACK_RETRY…)
 * also shows its liveness checks and the returned image.
 * @param {HTMLElement} container
 * @param {import('./api.js').DemoError} err
 */
export function renderError(container, err) {
  const body = err.body;
  const title = err.code === 401 || err.name?.startsWith?.('FEEDBACK_RETRY')
    ? `Refused — ${err.name} (${err.code})`
    : `Error${err.code != null ? ` ${err.code}` : ''} — ${err.name}`;
  const detail = [err.message];
  if (body?.liveness?.reasons?.length) {
    detail.push(`Failed checks: ${body.liveness.reasons.join(', ')}.`);
  }
  if (body && body.quality === false) detail.push('The image quality was poor too: retake in better light.');
  const hint = hintFor(err.code);
  finish(container, 'error', err.code, [
    banner(false, title, detail.filter((x, i, a) => x && a.indexOf(x) === i).join(' ')),
    hint && !detail.join(' ').includes(hint) ? h('p', { class: 'muted', text: hint }) : null,
    err.detail ? h('p', { class: 'muted small', text: `Detail: ${err.detail}` }) : null,
    body ? livenessBlock(body.liveness) : null,
    body?.data?.image ? templatesBlock('Captured image', { image: body.data.image }) : null,
    body ? rawJson(body) : null,
  ]);
}
