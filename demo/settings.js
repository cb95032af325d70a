/**
 * The settings panel ↔ FaceSDK options (the reference's option names and defaults).
 * Values persist in localStorage; `?name=value` in the page URL overrides a field for that
 * visit (e.g. `/demo/?captureTimeout=5&enableICAOChecks=false`), which is how the e2e harness
 * sets options without clicking through the panel.
 * @module demo/settings
 */

const STORE = 'faceproof-demo-settings-v1';

/** A few per-key overrides: the SDK falls back to English for every other key. */
const SPANISH = {
  FEEDBACK_INSIDE_GUIDE: 'Coloque la cara dentro de la guía',
  FEEDBACK_FACE_OUTSIDE: 'Coloque la cara dentro de la guía',
  FEEDBACK_CLOSE: 'Aléjese',
  FEEDBACK_FAR: 'Acérquese',
  FEEDBACK_PLEASE_HOLD: 'No se mueva.',
  FEEDBACK_OK: 'No se mueva',
  FEEDBACK_EYE_LEVEL: 'Mire al frente',
  FEEDBACK_CHANGE_LIGHT_TOO_DARK: 'Demasiado oscuro, busque más luz.',
  FEEDBACK_CHANGE_LIGHT_TOO_BRIGHT: 'Demasiado brillante, busque otra luz.',
  FEEDBACK_PROCESSING: 'Procesando...',
  FEEDBACK_INITIALIZATION: 'Iniciando...',
  FEEDBACK_BUTTON_CLOSE: 'Cerrar',
  FEEDBACK_BUTTON_RETRY: 'Reintentar',
  FEEDBACK_CAMERA_ACQUIRING_FAILED: 'No se puede usar la cámara: permita el acceso o reintente',
};

const form = () => /** @type {HTMLFormElement} */ (document.getElementById('settings-form'));

/** Current form values, as plain data. */
export function readForm() {
  const f = form();
  /** @type {Record<string, any>} */
  const out = {};
  for (const el of f.querySelectorAll('input[id], select[id]')) {
    const input = /** @type {HTMLInputElement} */ (el);
    out[input.id] = input.type === 'checkbox' ? input.checked : input.value;
  }
  out.requiredTemplates = [...f.querySelectorAll('input[name=requiredTemplates]:checked')]
    .map((x) => /** @type {HTMLInputElement} */ (x).value);
  return out;
}

function writeField(id, value) {
  const f = form();
  if (id === 'requiredTemplates') {
    const wanted = new Set(Array.isArray(value) ? value : String(value).split(',').filter(Boolean));
    for (const box of f.querySelectorAll('input[name=requiredTemplates]')) {
      /** @type {HTMLInputElement} */ (box).checked = wanted.has(/** @type {HTMLInputElement} */ (box).value);
    }
    return;
  }
  const el = /** @type {HTMLInputElement|null} */ (f.querySelector(`#${CSS.escape(id)}`));
  if (!el) return;
  if (el.type === 'checkbox') el.checked = value === true || value === 'true' || value === '1';
  else el.value = String(value);
}

/** Restores stored values, applies URL overrides, and saves on every change. */
export function initSettings() {
  const f = form();
  const defaults = readForm();
  try {
    const saved = JSON.parse(localStorage.getItem(STORE) || '{}');
    for (const [k, v] of Object.entries(saved)) writeField(k, v);
  } catch { /* a corrupt entry is ignored */ }
  for (const [k, v] of new URLSearchParams(location.search)) writeField(k, v);
  f.addEventListener('change', () => {
    try { localStorage.setItem(STORE, JSON.stringify(readForm())); } catch { /* private mode */ }
  });
  document.getElementById('settings-reset')?.addEventListener('click', () => {
    for (const [k, v] of Object.entries(defaults)) writeField(k, v);
    try { localStorage.removeItem(STORE); } catch { /* ignore */ }
  });
}

/**
 * FaceSDK options from the form, shaped like the reference's construction example.
 * @param {{Base64: Record<string, number>, TransactionMode?: Record<string,string>}} enums
 * @param {Record<string, Function>} events
 */
export function sdkOptions(enums, events) {
  const s = readForm();
  const canvas = {};
  for (const key of ['ovalBorderBackground', 'ovalBorderErrorBackground', 'label', 'labelBackground']) {
    if (s[key].trim()) canvas[key] = s[key].trim();
  }
  /** @type {Record<string, any>} */
  const options = {
    enableAs: s.enableAs,
    asThreshold: s.asThreshold,
    base64EncodingFlag: enums.Base64?.[s.base64EncodingFlag] ?? s.base64EncodingFlag,
    requiredTemplates: s.requiredTemplates,
    showCaptureTraining: s.showCaptureTraining,
    allowClose: s.allowClose,
    assisted: s.assisted,
    returnQualityMetadata: s.returnQualityMetadata,
    allowCameraSelect: s.allowCameraSelect,
    captureTimeout: Math.round(Number(s.captureTimeout) * 1000),
    enableEyesStatusDetector: s.enableEyesStatusDetector,
    enableICAOChecks: s.enableICAOChecks,
    enableBackgroundRemoval: s.enableBackgroundRemoval,
    skipSupportCheck: s.skipSupportCheck,
    enableRetakeScreen: s.enableRetakeScreen,
    events,
  };
  if (enums.TransactionMode) options.transaction = { type: enums.TransactionMode.CAPTURE };
  if (s.backgroundColor.trim()) options.backgroundColor = s.backgroundColor.trim();
  if (s.localization === 'es') options.localization = { ...SPANISH };
  if (Object.keys(canvas).length) options.graphics = { canvas };
  return { options, enableQuality: s.enableQuality };
}
