/**
 * The capture and progress dialogs: full-screen, accessible (role=dialog, aria-modal,
 * aria-live feedback, focus moved in, trapped and restored), the mirrored preview of exactly
 * the 640×480 frame region being analysed, the oval and the coloured surround (the screen
 * light during the challenge), tickers, and the training / retake / camera-choice panels.
 * @module ui
 */
import { t } from './localization.js';

const STYLE_ID = 'fp-sdk-styles';
const CSS = `
.fp-root{position:fixed;inset:0;z-index:2147483000;font:16px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.fp-dialog{position:absolute;inset:0;display:flex;flex-direction:column;align-items:center;justify-content:center;overflow:hidden;outline:none}
.fp-stage{position:relative;overflow:hidden;flex:none;transform:scaleX(var(--fp-mirror,-1))}
.fp-stage video{position:absolute;max-width:none;max-height:none;object-fit:fill;background:#000}
.fp-stage canvas{position:absolute;inset:0;width:100%;height:100%}
.fp-label{position:absolute;left:50%;transform:translateX(-50%);bottom:max(16px,env(safe-area-inset-bottom));max-width:min(92vw,560px);padding:.6em 1.1em;border-radius:1.4em;text-align:center;font-weight:600;font-size:clamp(15px,4.2vw,20px)}
.fp-tickers{position:absolute;top:max(14px,env(safe-area-inset-top));left:50%;transform:translateX(-50%);display:flex;gap:8px;margin:0;padding:0;list-style:none}
.fp-tickers li{width:28px;height:6px;border-radius:3px}
.fp-close{z-index:2;position:absolute;top:max(8px,env(safe-area-inset-top));right:max(8px,env(safe-area-inset-right));width:44px;height:44px;border-radius:22px;border:0;font-size:28px;line-height:44px;cursor:pointer;background:rgba(0,0,0,.55);color:#fff}
.fp-close:focus-visible,.fp-panel button:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}
.fp-panel{position:absolute;inset:0;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:16px;padding:24px;background:rgba(255,255,255,.97);color:#111;text-align:center;overflow:auto}
.fp-panel[hidden]{display:none}
.fp-panel h3{margin:0;font-size:clamp(18px,5vw,24px)}
.fp-panel p{margin:0;max-width:34em}
.fp-panel img{max-width:min(90vw,480px);max-height:50vh;border-radius:12px;transform:scaleX(var(--fp-mirror,-1))}
.fp-panel .fp-buttons{display:flex;gap:12px;flex-wrap:wrap;justify-content:center}
.fp-panel button{min-width:120px;min-height:44px;padding:0 20px;border-radius:22px;border:1px solid #1a73e8;background:#1a73e8;color:#fff;font:inherit;font-weight:600;cursor:pointer}
.fp-panel button.fp-secondary{background:#fff;color:#1a73e8}
.fp-panel ul{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px;width:min(90vw,420px)}
.fp-progress{position:absolute;inset:0;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:18px;background:rgba(255,255,255,.94);color:#111}
.fp-spinner{width:44px;height:44px;border-radius:50%;border:4px solid #d0d7e2;border-top-color:#1a73e8;animation:fp-spin 0.9s linear infinite}
@keyframes fp-spin{to{transform:rotate(360deg)}}
@media (prefers-reduced-motion:reduce){.fp-spinner{animation-duration:3s}}
.fp-sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

/** @param {Document} doc */
function ensureStyles(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement('style');
  style.id = STYLE_ID;
  style.textContent = CSS;
  doc.head.appendChild(style);
}

/** @param {string} html @param {Document} doc */
function fromHtml(html, doc) {
  const root = doc.createElement('div');
  root.className = 'fp-root';
  root.innerHTML = html;
  return root;
}

export class ProgressDialog {
  /** @param {string} html @param {Readonly<Record<string,string>>} strings */
  constructor(html, strings, doc = document) {
    this.html = html;
    this.strings = strings;
    this.doc = doc;
    /** @type {HTMLElement | null} */
    this.root = null;
  }

  /** @param {string} key */
  show(key) {
    ensureStyles(this.doc);
    if (!this.root) {
      this.root = fromHtml(this.html, this.doc);
      this.doc.body.appendChild(this.root);
    }
    const label = this.root.querySelector('#fp-progress-label');
    if (label) label.textContent = t(this.strings, key);
  }

  hide() {
    this.root?.remove();
    this.root = null;
  }
}

/**
 * @typedef {{cx: number, cy: number, h: number}} Oval
 */

export class CaptureDialog {
  /**
   * @param {{html: string, strings: Readonly<Record<string,string>>, graphics: Readonly<Record<string,string>>, allowClose: boolean, mirror: boolean, onClose: () => void}} cfg
   */
  constructor(cfg, doc = document) {
    this.cfg = cfg;
    this.doc = doc;
    ensureStyles(doc);
    this.root = fromHtml(cfg.html, doc);
    const q = (/** @type {string} */ id) => /** @type {HTMLElement | null} */ (this.root.querySelector('#' + id));
    this.dialog = q('fp-capture-dialog') ?? /** @type {HTMLElement} */ (this.root.firstElementChild);
    this.stage = /** @type {HTMLElement} */ (q('fp-stage'));
    this.video = /** @type {HTMLVideoElement} */ (q('fp-video'));
    this.overlay = /** @type {HTMLCanvasElement} */ (q('fp-overlay'));
    this.label = /** @type {HTMLElement} */ (q('fp-feedback'));
    this.tickers = q('fp-tickers');
    this.closeBtn = q('fp-close');
    this.panel = q('fp-panel');
    const title = q('fp-title');
    if (title) title.textContent = t(cfg.strings, 'FEEDBACK_CAPTURE_TITLE');
    this.root.style.setProperty('--fp-mirror', cfg.mirror ? '-1' : '1');
    const g = cfg.graphics;
    this.label.style.color = g.label;
    this.label.style.background = g.labelBackground;
    /** @type {Oval | null} */
    this.oval = null;
    this.ok = false;
    this.surround = g.canvasBackground;
    /** @type {{w: number, h: number, crop: {x: number, y: number, w: number, h: number}} | null} */
    this.source = null;
    this.feedbackKey = '';
    this.lastAnnounce = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.announceTimer = undefined;
    // The visible label is not itself live (it changes with every analysed frame).
    this.label.setAttribute('aria-live', 'off');
    this.announcer = doc.createElement('div');
    this.announcer.className = 'fp-sr-only';
    this.announcer.setAttribute('role', 'status');
    this.announcer.setAttribute('aria-live', 'polite');
    this.announcer.setAttribute('aria-atomic', 'true');
    this.dialog.appendChild(this.announcer);
    this.previousFocus = /** @type {HTMLElement | null} */ (doc.activeElement);
    if (this.closeBtn) {
      if (cfg.allowClose) {
        this.closeBtn.setAttribute('aria-label', t(cfg.strings, 'FEEDBACK_BUTTON_CLOSE'));
        this.closeBtn.addEventListener('click', () => cfg.onClose());
      } else {
        this.closeBtn.hidden = true;
      }
    }
    this.onKey = (/** @type {KeyboardEvent} */ e) => {
      if (e.key === 'Escape' && cfg.allowClose) {
        e.preventDefault();
        cfg.onClose();
      } else if (e.key === 'Tab') {
        this.trapFocus(e);
      }
    };
    this.onResize = () => this.layout();
  }

  open() {
    this.doc.body.appendChild(this.root);
    this.doc.addEventListener('keydown', this.onKey, true);
    globalThis.addEventListener?.('resize', this.onResize);
    this.setSurround(this.cfg.graphics.canvasBackground);
    this.layout();
    (this.closeBtn && !this.closeBtn.hidden ? this.closeBtn : this.dialog).focus?.({ preventScroll: true });
  }

  close() {
    clearTimeout(this.announceTimer);
    this.doc.removeEventListener('keydown', this.onKey, true);
    globalThis.removeEventListener?.('resize', this.onResize);
    this.video.srcObject = null;
    this.root.remove();
    if (this.previousFocus && this.doc.contains(this.previousFocus)) this.previousFocus.focus?.({ preventScroll: true });
  }

  /** @param {KeyboardEvent} e */
  trapFocus(e) {
    const items = [...this.root.querySelectorAll('button, [href], input, select, [tabindex]:not([tabindex="-1"])')].filter(
      (el) => !(/** @type {HTMLElement} */ (el).hidden) && !el.closest('[hidden]'),
    );
    if (!items.length) {
      e.preventDefault();
      return;
    }
    const first = /** @type {HTMLElement} */ (items[0]);
    const last = /** @type {HTMLElement} */ (items[items.length - 1]);
    const active = this.doc.activeElement;
    if (e.shiftKey && (active === first || !this.root.contains(active))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (active === last || !this.root.contains(active))) {
      e.preventDefault();
      first.focus();
    }
  }

  /**
   * Shows the stream; `crop` is the region of the video that becomes the W×H frame.
   * @param {MediaStream} stream
   */
  async attach(stream) {
    this.video.muted = true;
    this.video.setAttribute('playsinline', '');
    this.video.srcObject = stream;
    await this.video.play().catch(() => undefined);
    if (!this.video.videoWidth) {
      await new Promise((resolve) => this.video.addEventListener('loadedmetadata', resolve, { once: true }));
    }
  }

  /** @param {{w: number, h: number, crop: {x: number, y: number, w: number, h: number}}} source */
  setSource(source) {
    this.source = source;
    this.layout();
  }

  layout() {
    const vw = this.doc.documentElement.clientWidth || globalThis.innerWidth;
    const vh = this.doc.documentElement.clientHeight || globalThis.innerHeight;
    // The 4:3 frame is shown as large as fits; on a portrait phone its outer eighths may run
    // past the screen edges (the ovals stay well inside), so the face is not a thumbnail.
    const availH = Math.max(120, vh - 130);
    const sw = Math.floor(Math.min(vw / 0.75, (availH * 4) / 3));
    const sh = Math.floor((sw * 3) / 4);
    this.stage.style.width = sw + 'px';
    this.stage.style.height = sh + 'px';
    const dpr = Math.min(2, globalThis.devicePixelRatio || 1);
    this.overlay.width = Math.round(sw * dpr);
    this.overlay.height = Math.round(sh * dpr);
    if (this.source) {
      const s = sw / this.source.crop.w;
      Object.assign(this.video.style, {
        width: this.source.w * s + 'px',
        height: this.source.h * s + 'px',
        left: -this.source.crop.x * s + 'px',
        top: -this.source.crop.y * s + 'px',
      });
    }
    this.draw();
  }

  /** The colour around the oval, and the dialog's background (the screen light). @param {string} color */
  setSurround(color) {
    this.surround = color;
    this.dialog.style.background = color;
    this.draw();
  }

  /** @param {Oval | null} oval @param {boolean} ok */
  setOval(oval, ok) {
    this.oval = oval;
    this.ok = ok;
    this.draw();
  }

  draw() {
    const c = this.overlay;
    const g = c.getContext('2d');
    if (!g) return;
    g.clearRect(0, 0, c.width, c.height);
    g.fillStyle = this.surround;
    g.beginPath();
    g.rect(0, 0, c.width, c.height);
    if (this.oval) {
      const H = c.height;
      const ry = (this.oval.h * H) / 2;
      const rx = ry * 0.78;
      g.ellipse(this.oval.cx * c.width, this.oval.cy * H, rx, ry, 0, 0, Math.PI * 2);
      g.fill('evenodd');
      g.lineWidth = Math.max(3, c.width / 160);
      g.strokeStyle = this.ok ? this.cfg.graphics.ovalBorderBackground : this.cfg.graphics.ovalBorderErrorBackground;
      g.beginPath();
      g.ellipse(this.oval.cx * c.width, this.oval.cy * H, rx, ry, 0, 0, Math.PI * 2);
      g.stroke();
    } else {
      g.fill();
    }
  }

  /** Live feedback; screen readers hear a change at most every 1.5 s. @param {string} key */
  feedback(key) {
    if (key === this.feedbackKey) return;
    this.feedbackKey = key;
    const text = t(this.cfg.strings, key);
    this.label.textContent = text;
    this.label.dataset.key = key;
    // Screen readers get the guidance from a separate polite region, at most every 1.5 s and
    // only the message standing at that moment, so a flickering hint is not read out as chatter.
    clearTimeout(this.announceTimer);
    const wait = Math.max(0, 1500 - (Date.now() - this.lastAnnounce));
    this.announceTimer = setTimeout(() => {
      this.lastAnnounce = Date.now();
      if (this.announcer.textContent !== text) this.announcer.textContent = text;
    }, wait);
  }

  /** @param {number} total @param {number} active index of the current step */
  setTickers(total, active) {
    if (!this.tickers) return;
    const g = this.cfg.graphics;
    while (this.tickers.children.length < total) this.tickers.appendChild(this.doc.createElement('li'));
    while (this.tickers.children.length > total) this.tickers.lastElementChild?.remove();
    [...this.tickers.children].forEach((li, i) => {
      /** @type {HTMLElement} */ (li).style.background = i <= active ? g.tickerActiveBackground : g.tickerDefaultBackground;
    });
  }

  /**
   * A panel over the preview (training, retake, camera choice); resolves with the id of the
   * button pressed. Focus goes to the first button.
   * @param {{title: string, text?: string, image?: string, checkbox?: string, list?: Array<{id: string, label: string}>, buttons: Array<{id: string, label: string, secondary?: boolean}>}} spec
   * @param {AbortSignal} signal
   * @returns {Promise<{id: string, checked: boolean}>}
   */
  panelChoice(spec, signal) {
    const panel = this.panel;
    if (!panel) return Promise.resolve({ id: spec.buttons[0].id, checked: false });
    const doc = this.doc;
    panel.replaceChildren();
    const h = doc.createElement('h3');
    h.id = 'fp-panel-title';
    h.textContent = spec.title;
    panel.appendChild(h);
    panel.setAttribute('role', 'group');
    panel.setAttribute('aria-labelledby', 'fp-panel-title');
    if (spec.text) {
      const p = doc.createElement('p');
      p.textContent = spec.text;
      panel.appendChild(p);
    }
    if (spec.image) {
      const img = doc.createElement('img');
      img.src = spec.image;
      img.alt = '';
      panel.appendChild(img);
    }
    /** @type {HTMLInputElement | null} */
    let box = null;
    if (spec.checkbox) {
      const label = doc.createElement('label');
      box = doc.createElement('input');
      box.type = 'checkbox';
      label.append(box, ' ', spec.checkbox);
      panel.appendChild(label);
    }
    const wrap = doc.createElement(spec.list ? 'ul' : 'div');
    wrap.className = 'fp-buttons';
    /** @type {HTMLButtonElement[]} */
    const buttons = [];
    for (const b of [...(spec.list ?? []), ...spec.buttons]) {
      const btn = doc.createElement('button');
      btn.type = 'button';
      btn.textContent = b.label;
      btn.dataset.id = b.id;
      if (/** @type {any} */ (b).secondary) btn.className = 'fp-secondary';
      buttons.push(btn);
      if (spec.list) {
        const li = doc.createElement('li');
        li.appendChild(btn);
        wrap.appendChild(li);
      } else wrap.appendChild(btn);
    }
    panel.appendChild(wrap);
    panel.hidden = false;
    this.label.hidden = true;
    buttons[0]?.focus();
    return new Promise((resolve, reject) => {
      const done = () => {
        panel.hidden = true;
        this.label.hidden = false;
        panel.replaceChildren();
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      for (const btn of buttons) {
        btn.addEventListener('click', () => {
          done();
          (this.closeBtn && !this.closeBtn.hidden ? this.closeBtn : this.dialog).focus?.({ preventScroll: true });
          resolve({ id: btn.dataset.id ?? '', checked: !!box?.checked });
        });
      }
    });
  }
}
