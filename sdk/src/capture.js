/**
 * One guided capture (challenge protocol §3): camera, the main frame after a short streak of
 * good quality, the server's move-closer steps, the screen-light sequence during the near
 * step, then the sealed envelope. Every wait races the dialog's close button (202) and the
 * capture timeout (501).
 * @module capture
 */
import { ctx2d, makeCanvas } from './analyzer.js';
import { FRAME_H, FRAME_W, crop43, openCamera, stopStream, videoInputs } from './camera.js';
import { emitChallengeEvent, lightSchedule, readChallenge } from './challenge.js';
import { deviceInfo, isSyntheticTrack } from './device.js';
import { newNonce, seal } from './envelope.js';
import { FaceSDKError } from './errors.js';
import { t } from './localization.js';
import { envelopeOptions } from './options.js';
import { DEFAULT_OVAL, DEFAULT_TOLERANCE, assess } from './quality.js';
import { CaptureDialog, ProgressDialog } from './ui.js';

export const SDK_VERSION = 'faceproof-web-sdk/0.1.0';
export const JPEG_QUALITY = 0.92;
const MAIN_STREAK = 3; // consecutive good analyses before the main frame
const STEP_STREAK = 2; // ... before a challenge step counts as reached
const FRAMES_PER_STEP = 2;
const LIGHT_ATTEMPTS = 3; // a sequence spoilt by a page stall is run again, at most this often
const TRAINING_KEY = 'faceproof.training.skip';

/**
 * @typedef {{analysed: number, analysisMs: number, firstFeedbackMs: number, phasesMs?: Record<string, number>, timeline?: Array<{role: string, t: number}>, light_start_t?: number | null, lightPaintLagMs?: number, lightRestarts?: number}} CaptureStats
 */

/**
 * @typedef {object} SessionContext
 * @property {Readonly<import('./options.js').ResolvedOptions>} options
 * @property {import('./analyzer.js').Analyzer} analyzer
 * @property {{kid: string, key: CryptoKey}} publicKey
 * @property {number} clockOffset ms to add to Date.now() for the server's clock
 * @property {() => Promise<any>} issueChallenge POST /challenge → the `challenge` object
 * @property {(m: CaptureStats) => void} [onStats]
 */

export class CaptureSession {
  /** @param {SessionContext} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    this.o = ctx.options;
    this.abort = new AbortController();
    /** @type {MediaStream | null} */
    this.stream = null;
    this.frame = makeCanvas(FRAME_W, FRAME_H);
    this.frameCtx = ctx2d(this.frame);
    /** @type {{x: number, y: number, w: number, h: number}} */
    this.crop = { x: 0, y: 0, w: FRAME_W, h: FRAME_H };
    /** @type {CaptureStats} */
    this.stats = { analysed: 0, analysisMs: 0, firstFeedbackMs: -1 };
    this.startedAt = performance.now();
    /** @type {CaptureDialog | null} */
    this.ui = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
  }

  /** Resolves with the envelope Blob, or rejects with a FaceSDKError. */
  async run() {
    const o = this.o;
    const progress = new ProgressDialog(o.htmlTemplates.PROGRESS_DIALOG, o.localization);
    this.ui = new CaptureDialog({
      html: o.htmlTemplates.CAPTURE_DIALOG,
      strings: o.localization,
      graphics: o.graphics,
      allowClose: o.allowClose,
      mirror: !o.assisted,
      onClose: () => this.cancel(new FaceSDKError('FEEDBACK_DIALOG_CLOSED', { strings: o.localization })),
    });
    const ui = this.ui;
    ui.open();
    ui.feedback('FEEDBACK_INITIALIZATION');
    try {
      if (o.showCaptureTraining && !trainingSkipped()) await this.training();
      // The challenge is fetched while the camera starts (it lives 2 minutes: ample).
      let challengeP = o.enableAs ? this.issueChallenge() : null;
      this.stream = await this.camera(openCamera({ rear: o.assisted }));
      this.mark('camera');
      await this.maybeChooseCamera();
      this.watchTrack();
      // captureTimeout runs from here (a permission prompt or camera choice does not eat it)
      // until the main frame is taken.
      this.armTimeout();
      await this.guard(ui.attach(this.stream));
      this.mark('video');
      const v = ui.video;
      this.crop = crop43(v.videoWidth || FRAME_W, v.videoHeight || FRAME_H);
      ui.setSource({ w: v.videoWidth, h: v.videoHeight, crop: this.crop });
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) {
          this.armTimeout();
          challengeP = o.enableAs ? this.issueChallenge() : null;
        }
        const challenge = challengeP ? readChallenge(await this.guard(challengeP)) : null;
        this.mark('challenge');
        const frames = await this.collect(challenge);
        if (!o.enableRetakeScreen || (await this.retake(frames.frames[0].blob))) {
          ui.close();
          progress.show('FEEDBACK_PROCESSING');
          emitChallengeEvent({ phase: 'sealing' });
          return await this.seal(frames, challenge);
        }
        this.ctx.analyzer.reset();
      }
    } finally {
      clearTimeout(this.timer);
      stopStream(this.stream);
      ui.close();
      progress.hide();
      this.ctx.onStats?.({ ...this.stats });
    }
  }

  /** The challenge request, its failure kept for whoever awaits it. */
  issueChallenge() {
    const p = this.ctx.issueChallenge();
    p.catch(() => undefined);
    return p;
  }

  /** Records when a start-up phase ended (ms since capture start, first time only). @param {string} name */
  mark(name) {
    const phases = (this.stats.phasesMs ??= {});
    if (phases[name] === undefined) phases[name] = Math.round(performance.now() - this.startedAt);
  }

  /** A camera that goes away mid-capture (unplugged, taken by another app) ends it: 104. */
  watchTrack() {
    const track = this.stream?.getVideoTracks()[0];
    track?.addEventListener('ended', () =>
      this.cancel(new FaceSDKError('FEEDBACK_CAMERA_ACQUIRING_FAILED', { strings: this.o.localization, detail: 'camera track ended' })),
    );
  }

  armTimeout() {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.cancel(new FaceSDKError('FEEDBACK_CAPTURE_TIMEOUT', { strings: this.o.localization })),
      this.o.captureTimeout,
    );
  }

  /**
   * Awaits a camera stream; one that arrives after the dialog was closed is stopped at once
   * (the camera light must not stay on).
   * @param {Promise<MediaStream>} p
   */
  camera(p) {
    p.then((s) => {
      if (this.abort.signal.aborted) stopStream(s);
    }, () => undefined);
    return this.guard(p);
  }

  /** @param {FaceSDKError} err */
  cancel(err) {
    if (!this.abort.signal.aborted) this.abort.abort(err);
  }

  /**
   * Races a promise with the close button / timeout.
   * @template T @param {Promise<T>} p @returns {Promise<T>}
   */
  guard(p) {
    const signal = this.abort.signal;
    p.catch(() => undefined); // if the abort wins, p's own later rejection is not unhandled
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /** @param {number} ms */
  sleep(ms) {
    return this.guard(new Promise((r) => setTimeout(r, ms)));
  }

  async training() {
    const s = this.o.localization;
    const res = await this.ui.panelChoice(
      {
        title: t(s, 'FEEDBACK_TRAINING_TITLE'),
        text: t(s, 'FEEDBACK_TRAINING_TEXT'),
        checkbox: t(s, 'FEEDBACK_TRAINING_LABEL'),
        buttons: [{ id: 'next', label: t(s, 'FEEDBACK_TRAINING_BUTTON_NEXT') }],
      },
      this.abort.signal,
    );
    if (res.checked) {
      try {
        globalThis.localStorage?.setItem(TRAINING_KEY, '1');
      } catch {
        /* storage may be disabled: the screen shows again next time */
      }
    }
  }

  /** `allowCameraSelect` with several cameras: the integrator's handler, else our list. */
  async maybeChooseCamera() {
    if (!this.o.allowCameraSelect) return;
    const devices = await videoInputs();
    if (devices.length < 2) return;
    const handler = this.o.events.onInputDevicesDetected;
    let chosen;
    if (handler) {
      chosen = await this.guard(Promise.resolve(handler(devices)));
      if (chosen && typeof chosen === 'object') chosen = chosen.deviceId;
    } else {
      const s = this.o.localization;
      const res = await this.ui.panelChoice(
        {
          title: t(s, 'FEEDBACK_SELECT_CAMERA'),
          list: devices.map((d, i) => ({ id: d.deviceId, label: d.label || `Camera ${i + 1}` })),
          buttons: [],
        },
        this.abort.signal,
      );
      chosen = res.id;
    }
    const current = this.stream?.getVideoTracks()[0]?.getSettings().deviceId;
    if (typeof chosen === 'string' && chosen && chosen !== current) {
      stopStream(this.stream);
      this.stream = await this.camera(openCamera({ rear: this.o.assisted, deviceId: chosen }));
    }
  }

  /** Resolves at the next video frame. */
  /** Resolves at the next video frame, or after 1 s without one (a stalled camera or a
   * hidden page must not hang the capture: the current frame is used). */
  nextVideoFrame() {
    const v = /** @type {any} */ (this.ui.video);
    return this.guard(
      new Promise((resolve) => {
        const timer = setTimeout(resolve, 1000);
        const done = () => {
          clearTimeout(timer);
          resolve(undefined);
        };
        if (typeof v.requestVideoFrameCallback === 'function') v.requestVideoFrameCallback(done);
        else requestAnimationFrame(done);
      }),
    );
  }

  /**
   * Draws the current video frame (centre 4:3 crop) into the 640×480 frame canvas, or into
   * `ctx`; returns the time.
   * @param {CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D} [ctx]
   */
  grab(ctx = this.frameCtx) {
    const c = this.crop;
    ctx.drawImage(this.ui.video, c.x, c.y, c.w, c.h, 0, 0, FRAME_W, FRAME_H);
    return performance.now();
  }

  /**
   * @param {OffscreenCanvas | HTMLCanvasElement} [canvas]
   * @returns {Promise<Blob>} one JPEG encoder and quality for every frame
   */
  encode(canvas = this.frame) {
    const f = /** @type {any} */ (canvas);
    if (typeof f.convertToBlob === 'function') return f.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY });
    return new Promise((resolve, reject) =>
      f.toBlob((/** @type {Blob | null} */ b) => (b ? resolve(b) : reject(new Error('JPEG encoding failed'))), 'image/jpeg', JPEG_QUALITY),
    );
  }

  /**
   * Grabs and analyses frames until `streak` consecutive ones are good for `target`, or
   * `deadline` (performance.now() ms) passes. Returns whether the streak was reached.
   * @param {{oval: import('./quality.js').Oval, tolerance: import('./quality.js').OvalTolerance, main?: boolean}} target
   * @param {number} streak @param {number} deadline
   * @param {string | null} holdKey feedback to show instead of FEEDBACK_OK
   * @param {(() => void) | null} onTimeout
   */
  async waitFor(target, streak, deadline, holdKey, onTimeout) {
    let good = 0;
    let at = 0;
    /** @type {any} */
    let last = null;
    while (good < streak) {
      if (performance.now() > deadline) {
        onTimeout?.();
        return { reached: false, last, at };
      }
      await this.nextVideoFrame();
      at = this.grab();
      const t0 = performance.now();
      const a = await this.guard(this.ctx.analyzer.analyze(this.frame, this.frameCtx, FRAME_W, FRAME_H));
      this.stats.analysed++;
      this.stats.analysisMs += performance.now() - t0;
      // Closed eyes block only the main frame (the one the server's quality reads); in the
      // challenge steps the face's position is what counts.
      const q = assess(a, { oval: target.oval, tolerance: target.tolerance, eyes: this.o.enableEyesStatusDetector && target.main === true });
      if (this.stats.firstFeedbackMs < 0) {
        this.stats.firstFeedbackMs = performance.now() - this.startedAt;
        this.mark('firstFeedback');
      }
      this.ui.feedback(q.ok && holdKey ? holdKey : q.feedback);
      this.ui.setOval(target.oval, q.ok);
      good = q.ok ? good + 1 : 0;
      last = q;
    }
    return { reached: true, last, at };
  }

  /**
   * The frames of one attempt.
   * @param {import('./challenge.js').Challenge | null} ch
   */
  async collect(ch) {
    const ui = this.ui;
    /** @type {Array<{blob: Blob, at: number, role: string}>} */
    const frames = [];
    const steps = ch ? ch.steps : [];
    const tickerCount = 1 + steps.length + (ch?.light ? 1 : 0);
    ui.setTickers(tickerCount, 0);
    ui.setSurround(this.o.graphics.canvasBackground);
    const main = { oval: DEFAULT_OVAL, tolerance: ch ? ch.tolerance : DEFAULT_TOLERANCE, main: true };
    ui.setOval(main.oval, false);
    emitChallengeEvent({ phase: 'main', oval: { ...main.oval }, tolerance: { ...main.tolerance } });
    const res = await this.waitFor(main, MAIN_STREAK, Infinity, 'FEEDBACK_PLEASE_HOLD', null);
    clearTimeout(this.timer);
    const mainAt = res.at; // the frame canvas still holds the frame that completed the streak
    frames.push({ blob: await this.encode(), at: mainAt, role: 'main' });
    this.quality = res.last?.metrics ?? null;
    this.reportQuality();
    /** @type {number | null} */
    let lightStart = null;
    for (const [i, step] of steps.entries()) {
      ui.setTickers(tickerCount, 1 + i);
      ui.setOval(step.oval, false);
      ui.feedback('FEEDBACK_FOLLOW_OVAL');
      emitChallengeEvent({ phase: 'oval', role: step.role, oval: { ...step.oval }, tolerance: { ...ch.tolerance } });
      const target = { oval: step.oval, tolerance: ch.tolerance };
      await this.waitFor(target, STEP_STREAK, performance.now() + ch.stepTimeoutMs, 'FEEDBACK_PLEASE_HOLD', null);
      // Hold: guidance stays live (the analysis goes on) until hold_ms has passed.
      await this.waitFor(target, Infinity, performance.now() + step.hold_ms, 'FEEDBACK_PLEASE_HOLD', null);
      for (let k = 0; k < FRAMES_PER_STEP; k++) {
        await this.nextVideoFrame();
        const at = this.grab();
        frames.push({ blob: await this.encode(), at, role: step.role });
      }
      if (step.role === 'near' && ch.light) {
        ui.setTickers(tickerCount, 1 + steps.length);
        lightStart = await this.light(ch.light, frames);
        ui.setSurround(this.o.graphics.canvasBackground);
      }
    }
    ui.setTickers(tickerCount, tickerCount - 1);
    return { frames, mainAt, lightStart };
  }

  /**
   * The screen-light sequence (§3.3): colour k painted at light_start + Σ ms_j, one frame
   * taken inside [start_k + settle·ms_k, start_k + ms_k); run again if the page stalled.
   * @param {{colors: Array<{color: string, ms: number}>, settle: number}} light
   * @param {Array<{blob: Blob, at: number, role: string}>} frames
   * @returns {Promise<number>} light_start on the performance.now() axis
   */
  async light(light, frames) {
    const ui = this.ui;
    ui.feedback('FEEDBACK_LIGHT_HOLD');
    const schedule = lightSchedule(light.colors, light.settle);
    for (let attempt = 1; ; attempt++) {
      const got = await this.lightOnce(schedule, attempt >= LIGHT_ATTEMPTS);
      if (got.ok || attempt >= LIGHT_ATTEMPTS) {
        frames.push(...got.frames);
        emitChallengeEvent({ phase: 'light', index: -1, color: null });
        return got.start;
      }
      // The page stalled (a colour painted late, or a frame taken outside its window): the
      // frames would not show the sequence the server checks, so the whole sequence runs
      // again, on a new light_start, right away — never a shifted or invented timestamp.
      this.stats.lightRestarts = (this.stats.lightRestarts ?? 0) + 1;
    }
  }

  /**
   * One run of the colour sequence.
   * @param {ReturnType<typeof lightSchedule>} schedule
   * @param {boolean} final the last allowed run: its frames are kept whatever happened
   * @returns {Promise<{ok: boolean, start: number, frames: Array<{blob: Blob, at: number, role: string}>}>}
   */
  async lightOnce(schedule, final) {
    // One canvas per colour: during the sequence a frame is only drawn (cheap), and all are
    // encoded afterwards, so JPEG work cannot delay the colours or the next frames.
    const slots = schedule.map((w) => {
      const canvas = makeCanvas(FRAME_W, FRAME_H);
      const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d', { alpha: false }));
      // A frame is wanted from a little into the window (the window itself opens settle·ms
      // after the colour: the camera's latency allowance) until shortly before it closes.
      const span = w.end - w.windowStart;
      return { canvas, ctx, at: -1, from: w.windowStart + 0.1 * span, until: w.end - Math.min(10, 0.05 * span) };
    });
    let ok = true;
    let start = Infinity;
    // Frames are taken as the camera delivers them (video-frame callbacks), stamped with the
    // time the frame was presented, so a late timer cannot push a frame out of its window.
    const v = /** @type {any} */ (this.ui.video);
    const byFrame = typeof v.requestVideoFrameCallback === 'function';
    let watching = byFrame;
    const onFrame = (/** @type {number} */ now, /** @type {any} */ meta) => {
      if (!watching) return;
      const at = Math.min(typeof meta?.presentationTime === 'number' ? meta.presentationTime : now, performance.now());
      const slot = slots.find((s) => s.at < 0 && at >= start + s.from && at < start + s.until);
      if (slot) {
        this.grab(slot.ctx);
        slot.at = at;
      }
      v.requestVideoFrameCallback(onFrame);
    };
    if (byFrame) v.requestVideoFrameCallback(onFrame);
    try {
      start = await this.paintAt(schedule[0].color, null);
      emitChallengeEvent({ phase: 'light', index: 0, color: schedule[0].color });
      for (const w of schedule) {
        if (w.index > 0) {
          const painted = await this.paintAt(w.color, start + w.start);
          const lag = painted - (start + w.start);
          this.stats.lightPaintLagMs = Math.max(this.stats.lightPaintLagMs ?? 0, Math.round(lag));
          // The colour must be on screen well before its window opens.
          if (lag > 0.5 * (w.windowStart - w.start)) ok = false;
          emitChallengeEvent({ phase: 'light', index: w.index, color: w.color });
        }
        if (!byFrame) {
          // No video-frame callbacks (older browsers): a timer aims early in the window.
          const slot = slots[w.index];
          const wait = start + slot.from - performance.now();
          if (wait > 0) await this.sleep(wait);
          slot.at = this.grab(slot.ctx);
        }
      }
      const endAt = start + schedule[schedule.length - 1].end;
      if (endAt > performance.now()) await this.sleep(endAt - performance.now());
    } finally {
      watching = false;
    }
    for (const [k, w] of schedule.entries()) {
      const slot = slots[k];
      if (slot.at < 0) {
        ok = false; // the camera delivered no frame inside this colour's window
        if (final) slot.at = this.grab(slot.ctx); // the true time: the server will refuse it
      } else if (slot.at < start + w.windowStart || slot.at >= start + w.end) {
        ok = false;
      }
    }
    /** @type {Array<{blob: Blob, at: number, role: string}>} */
    const frames = [];
    if (ok || final) for (const slot of slots) frames.push({ blob: await this.encode(slot.canvas), at: slot.at, role: 'light' });
    return { ok, start, frames };
  }



  /**
   * Paints the surround colour at the next animation frame at or after `when` (≈ 8 ms early
   * so it lands on time); returns when it was painted (performance.now() axis). Colour k's
   * schedule stays light_start + Σ ms_j whatever the lag: the server judges on that axis.
   * @param {string} color @param {number | null} when
   */
  async paintAt(color, when) {
    if (when !== null) {
      const wait = when - performance.now() - 8;
      if (wait > 0) await this.sleep(wait);
    }
    return this.guard(
      new Promise((resolve) => {
        let painted = false;
        const paint = () => {
          if (painted) return;
          painted = true;
          this.ui.setSurround(color);
          resolve(performance.now());
        };
        requestAnimationFrame(paint);
        setTimeout(paint, 100); // no animation frames in a hidden page
      }),
    );
  }

  /** Asks whether to keep the capture; true = use it. @param {Blob} mainBlob */
  async retake(mainBlob) {
    const s = this.o.localization;
    const url = URL.createObjectURL(mainBlob);
    try {
      const res = await this.ui.panelChoice(
        {
          title: t(s, 'FEEDBACK_RETAKE_TITLE'),
          image: url,
          buttons: [
            { id: 'use', label: t(s, 'FEEDBACK_BUTTON_USE') },
            { id: 'retry', label: t(s, 'FEEDBACK_BUTTON_RETRY'), secondary: true },
          ],
        },
        this.abort.signal,
      );
      return res.id === 'use';
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  reportQuality() {
    const o = this.o;
    const handler = o.events.onImageQualityDetected;
    if (!o.returnQualityMetadata || !handler || !this.quality) return;
    const q = this.quality;
    /** @type {Record<string, unknown>} */
    const out = { quality_metric: q.quality_metric, head_pose_check: q.head_pose_check };
    if (o.enableEyesStatusDetector && q.eyes_status !== undefined) {
      out.eyes_status = q.eyes_status;
      out.eyes_opening_grade = q.eyes_opening_grade;
    }
    try {
      handler(out);
    } catch (err) {
      console.error('faceproof: onImageQualityDetected threw', err);
    }
  }

  /**
   * @param {{frames: Array<{blob: Blob, at: number, role: string}>, mainAt: number, lightStart: number | null}} got
   * @param {import('./challenge.js').Challenge | null} ch
   */
  async seal(got, ch) {
    const o = this.o;
    const t0 = got.mainAt;
    let prev = -1;
    const frames = [];
    for (const f of got.frames) {
      // Times are the frames' own; only two frames that round to the same millisecond are
      // told apart by 1 ms (frames that are truly out of order stay so: the server refuses).
      let t = Math.round(f.at - t0);
      if (t === prev) t += 1;
      prev = t;
      frames.push({ jpeg: await blobBase64(f.blob), t, role: f.role });
    }
    const track = this.stream?.getVideoTracks()[0] ?? null;
    const device = deviceInfo({
      label: track?.label ?? null,
      settings: /** @type {Record<string, unknown> | null} */ (/** @type {unknown} */ (track?.getSettings?.() ?? null)),
      synthetic: isSyntheticTrack(track),
      navigator: globalThis.navigator,
    });
    /** @type {Record<string, string | number | boolean | null>} */
    const quality = {};
    if (o.returnQualityMetadata && this.quality) {
      for (const [k, v] of Object.entries(this.quality)) quality[k] = v;
      if (this.stats.analysed) quality.analysis_fps = Math.round((1000 * this.stats.analysed) / this.stats.analysisMs);
    }
    /** @type {Record<string, unknown> | null} */
    let challenge = null;
    if (ch) {
      challenge = { id: ch.id };
      if (got.lightStart !== null) challenge.light_start_t = Math.round(got.lightStart - t0);
    }
    // ts: the server-corrected epoch of the last frame (the server places the frames on its
    // clock as ts − t_last + t).
    const lastAt = t0 + frames[frames.length - 1].t;
    const ts = Math.round(Date.now() - (performance.now() - lastAt) + this.ctx.clockOffset);
    const payload = {
      v: 1,
      nonce: ch ? ch.nonce : newNonce(),
      ts,
      frames,
      options: envelopeOptions(o),
      device,
      quality,
      challenge,
      sdkVersion: SDK_VERSION,
    };
    this.stats.timeline = frames.map((f) => ({ role: f.role, t: f.t }));
    if (challenge) this.stats.light_start_t = /** @type {any} */ (challenge).light_start_t ?? null;
    const token = await seal(payload, this.ctx.publicKey);
    return new Blob([token], { type: 'application/octet-stream' });
  }
}

function trainingSkipped() {
  try {
    return globalThis.localStorage?.getItem(TRAINING_KEY) === '1';
  } catch {
    return false;
  }
}

/** @param {Blob} blob */
async function blobBase64(blob) {
  const { base64 } = await import('./envelope.js');
  return base64(new Uint8Array(await blob.arrayBuffer()));
}
