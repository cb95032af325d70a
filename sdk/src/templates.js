/**
 * Default HTML templates (`htmlTemplates.CAPTURE_DIALOG` / `PROGRESS_DIALOG`) and the element
 * ids the SDK drives. A custom template may restyle and add anything but must keep the
 * required ids; optional ids enable their feature when present.
 * @module templates
 */

export const CAPTURE_DIALOG = `<div class="fp-dialog" id="fp-capture-dialog" role="dialog" aria-modal="true" aria-labelledby="fp-title" aria-describedby="fp-feedback" tabindex="-1">
  <h2 id="fp-title" class="fp-sr-only"></h2>
  <div class="fp-stage" id="fp-stage">
    <video id="fp-video" playsinline muted autoplay disablepictureinpicture></video>
    <canvas id="fp-overlay" aria-hidden="true"></canvas>
  </div>
  <div class="fp-label" id="fp-feedback"></div>
  <ol class="fp-tickers" id="fp-tickers" aria-hidden="true"></ol>
  <button type="button" class="fp-close" id="fp-close"><span aria-hidden="true">&times;</span></button>
  <div class="fp-panel" id="fp-panel" hidden></div>
</div>`;

export const PROGRESS_DIALOG = `<div class="fp-progress" id="fp-progress-dialog" role="dialog" aria-modal="true" aria-busy="true" aria-labelledby="fp-progress-label">
  <div class="fp-spinner" aria-hidden="true"></div>
  <p id="fp-progress-label" role="status" aria-live="polite"></p>
</div>`;

export const REQUIRED_IDS = Object.freeze({
  CAPTURE_DIALOG: ['fp-stage', 'fp-video', 'fp-overlay', 'fp-feedback'],
  PROGRESS_DIALOG: ['fp-progress-label'],
});

export const DEFAULT_TEMPLATES = Object.freeze({ CAPTURE_DIALOG, PROGRESS_DIALOG });

/**
 * Checks a template string for the ids the SDK needs (a plain text check, so it runs at
 * construction time, before any DOM exists).
 * @param {'CAPTURE_DIALOG' | 'PROGRESS_DIALOG'} name
 * @param {unknown} html
 * @returns {string}
 */
export function checkTemplate(name, html) {
  // The reference's examples import HTML files as modules: accept {default: "..."} too.
  if (html && typeof html === 'object' && typeof (/** @type {any} */ (html).default) === 'string') {
    html = /** @type {any} */ (html).default;
  }
  if (typeof html !== 'string' || !html.trim()) {
    throw new TypeError(`faceproof: htmlTemplates.${name} must be an HTML string`);
  }
  for (const id of REQUIRED_IDS[name]) {
    if (!new RegExp(`\\bid\\s*=\\s*["']${id}["']`).test(html)) {
      throw new TypeError(`faceproof: htmlTemplates.${name} must keep the element id="${id}"`);
    }
  }
  return html;
}
