/* global __E2E_CAMERA__ */
/**
 * Reactive camera for the e2e harness (injected before any page script runs).
 *
 * Replaces `navigator.mediaDevices.getUserMedia` / `enumerateDevices` with a 640×480 canvas
 * stream that plays real footage of a live person and follows the SDK's challenge events
 * (docs/challenge protocol §5, `faceproof:challenge` on window):
 *  - "main" / "oval": the footage is scaled and translated so that the face box (BlazeFace
 *    boxes pre-computed per source frame by video_faces.py) lands in the requested oval at
 *    the middle of its size tolerance, moving there like a person would (~0.8 s);
 *  - the clip is played towards its small-face moment for "far" and its large-face moment
 *    for "near" (forwards or backwards through the clip, whichever way that is), so the far
 *    and near frames carry the real 3-D change of a person approaching the camera;
 *  - "light": one to two frames after each colour change (camera latency) the face is lit
 *    additively with that colour × skin reflectance × gain, fading out at the face's edge;
 *  - every frame gets Gaussian sensor noise (σ `noise` grey levels) over the face region.
 * Frames are fetched from `cfg.base` (served by the harness through a Playwright route).
 * Nothing here is visible to the server except the pixels: it is a camera, not a shortcut.
 */
(() => {
  const cfg = __E2E_CAMERA__;
  const W = cfg.width;
  const H = cfg.height;
  const PERIOD = 1000 / cfg.fps;
  const SKIN = [0.9, 0.75, 0.65]; // skin reflects red more than blue

  let seed = cfg.seed >>> 0 || 1;
  const rand = () => { // mulberry32: reproducible runs for a given --seed
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gauss = () => {
    const u = Math.max(rand(), 1e-9);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };

  // Source face boxes, smoothed over ±2 frames (a detector's jitter is not a head's motion).
  const boxes = cfg.frames.map((f) => f.box);
  const smooth = boxes.map((b, i) => {
    const acc = [0, 0, 0, 0];
    let n = 0;
    for (let k = Math.max(0, i - 2); k <= Math.min(boxes.length - 1, i + 2); k++) {
      if (!boxes[k]) continue;
      for (let c = 0; c < 4; c++) acc[c] += boxes[k][c];
      n++;
    }
    return n ? acc.map((v) => v / n) : null;
  });
  const boxAt = (i) => {
    for (let d = 0; d < smooth.length; d++) {
      if (smooth[i - d]) return smooth[i - d];
      if (smooth[i + d]) return smooth[i + d];
    }
    return [W * 0.35, H * 0.25, W * 0.65, H * 0.65];
  };

  const log = [];
  const now = () => performance.now();
  const lerp = (a, b, u) => a + (b - a) * u;
  const smoothstep = (u) => u * u * (3 - 2 * u);

  function natural(i) {
    const b = boxAt(Math.round(i));
    return { x: (b[0] + b[2]) / 2, y: (b[1] + b[3]) / 2, h: b[3] - b[1] };
  }

  // Motion is a function of wall time (a busy page drops frames, it does not slow the person
  // down): from the placement and clip position at the last event to the new ones. The head
  // reaches its pose (the clip's far or near moment) in 60 % of `moveMs` and the face reaches
  // the oval's size and place at `moveMs`, so the frames the SDK takes once the face is in the
  // oval show the requested pose, not a half-way one.
  const start = natural(cfg.start);
  const state = {
    move: { t0: -1e9, fromSrc: cfg.start, toSrc: cfg.start, from: start, to: start },
    src: cfg.start,
    place: { ...start },
    tint: null, // [r, g, b] in 0..255, or null
    pending: [], // {at, tint}: colour changes waiting for the camera's latency
  };

  /** Face placement for an oval: centre on the oval's, height mid-tolerance. */
  function ovalGoal(oval, tol) {
    const mid = tol ? (tol.size_min + tol.size_max) / 2 : 1;
    return { x: oval.cx * W, y: oval.cy * H, h: oval.h * H * mid };
  }

  function heading(toSrc, to) {
    state.move = { t0: now(), fromSrc: state.src, toSrc, from: { ...state.place }, to };
  }

  function step(t) {
    const m = state.move;
    const u = Math.min(1, (t - m.t0) / cfg.moveMs);
    const us = Math.min(1, (t - m.t0) / (0.6 * cfg.moveMs));
    // Once there, a few frames back and forth around the pose: a person is never still.
    const dwell = us >= 1 ? 3 * Math.sin((2 * Math.PI * (t - m.t0 - 0.6 * cfg.moveMs)) / 1200) : 0;
    state.src = lerp(m.fromSrc, m.toSrc, smoothstep(us)) + dwell;
    for (const k of ['x', 'y', 'h']) state.place[k] = lerp(m.from[k], m.to[k], smoothstep(u));
    while (state.pending.length && state.pending[0].at <= t) state.tint = state.pending.shift().tint;
  }

  window.addEventListener('faceproof:challenge', (e) => {
    const d = e.detail || {};
    log.push({ t: Math.round(now()), phase: d.phase, role: d.role, index: d.index });
    if (d.phase === 'main') {
      heading(cfg.start, d.oval ? ovalGoal(d.oval, d.tolerance) : { x: W / 2, y: H / 2, h: start.h });
    } else if (d.phase === 'oval') {
      heading(d.role === 'near' ? cfg.near : cfg.far, ovalGoal(d.oval, d.tolerance));
    } else if (d.phase === 'light') {
      const frames = cfg.latencyFrames[0] + Math.floor(rand() * (cfg.latencyFrames[1] - cfg.latencyFrames[0] + 1));
      const c = typeof d.color === 'string' && /^#[0-9a-f]{6}$/i.test(d.color) ? d.color : null;
      const tint = c ? [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16)) : null;
      state.pending.push({ at: now() + frames * PERIOD, tint });
    }
  });

  // Frames: fetched once as blobs, decoded on demand with a small bitmap cache.
  const blobs = new Map();
  const bitmaps = new Map();
  function blob(i) {
    if (!blobs.has(i)) {
      blobs.set(i, fetch(`${cfg.base}/${cfg.frames[i].file}`).then((r) => {
        if (!r.ok) throw new Error(`frame ${i}: HTTP ${r.status}`);
        return r.blob();
      }));
    }
    return blobs.get(i);
  }
  async function bitmap(i) {
    if (bitmaps.has(i)) return bitmaps.get(i);
    const bm = await createImageBitmap(await blob(i));
    bitmaps.set(i, bm);
    if (bitmaps.size > 24) {
      const [oldest] = bitmaps.keys();
      bitmaps.get(oldest)?.close?.();
      bitmaps.delete(oldest);
    }
    return bm;
  }

  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let stream = null;
  let timer = null;
  let drawing = false;
  let lastBitmap = null;

  const noise = new Float32Array(1 << 16);
  for (let k = 0; k < noise.length; k++) noise[k] = gauss() * cfg.noise;

  async function draw() {
    if (drawing) return; // never queue frames behind a slow decode
    drawing = true;
    try {
      step(now());
      const n = cfg.frames.length;
      const i = Math.min(n - 1, Math.max(0, Math.round(state.src)));
      let bm = lastBitmap;
      try { bm = await bitmap(i); lastBitmap = bm; } catch (err) { log.push({ error: String(err) }); }
      if (!bm) return;
      const b = boxAt(i);
      const bx = (b[0] + b[2]) / 2;
      const by = (b[1] + b[3]) / 2;
      const s = state.place.h / (b[3] - b[1]);
      const tx = state.place.x - s * bx;
      const ty = state.place.y - s * by;
      ctx.globalCompositeOperation = 'source-over';
      // Where the scaled footage does not cover the frame (a face made smaller than in the
      // clip, or moved towards an edge), its edge pixels are stretched outwards (clamp to
      // edge): no black border, and no second face (mirrored or enlarged copies of the
      // footage would put copies of the face in the frame).
      const sw = s * W;
      const sh = s * H;
      ctx.drawImage(bm, tx, ty, sw, sh);
      if (ty > 0) ctx.drawImage(bm, 0, 0, W, 1, tx, 0, sw, Math.ceil(ty));
      if (ty + sh < H) ctx.drawImage(bm, 0, H - 1, W, 1, tx, Math.floor(ty + sh), sw, H - Math.floor(ty + sh));
      if (tx > 0 && tx < W - 1) {
        const c = Math.ceil(tx);
        ctx.drawImage(canvas, c, 0, 1, H, 0, 0, c, H);
      }
      if (tx + sw < W && tx + sw > 1) {
        const c = Math.floor(tx + sw) - 1;
        ctx.drawImage(canvas, c, 0, 1, H, c + 1, 0, W - c - 1, H);
      }
      if (state.tint) {
        const [r, g, bl] = state.tint.map((v, k) => Math.round(v * SKIN[k]));
        const fh = state.place.h;
        ctx.save();
        ctx.globalCompositeOperation = 'lighter';
        ctx.translate(state.place.x, state.place.y + 0.05 * fh);
        ctx.scale(0.8, 1);
        const grad = ctx.createRadialGradient(0, 0, 0, 0, 0, 0.75 * fh);
        grad.addColorStop(0, `rgba(${r},${g},${bl},${cfg.gain})`);
        grad.addColorStop(0.65, `rgba(${r},${g},${bl},${cfg.gain * 0.85})`);
        grad.addColorStop(1, `rgba(${r},${g},${bl},0)`);
        ctx.fillStyle = grad;
        ctx.fillRect(-0.75 * fh, -0.75 * fh, 1.5 * fh, 1.5 * fh);
        ctx.restore();
      }
      if (cfg.noise > 0) {
        // Sensor noise where it matters (the face and around it; the footage has its own
        // elsewhere): a region, not the whole frame, keeps the camera cheap on a busy CPU.
        const fh = state.place.h;
        const x0 = Math.max(0, Math.floor(state.place.x - 0.7 * fh));
        const y0 = Math.max(0, Math.floor(state.place.y - 0.8 * fh));
        const x1 = Math.min(W, Math.ceil(state.place.x + 0.7 * fh));
        const y1 = Math.min(H, Math.ceil(state.place.y + 0.9 * fh));
        if (x1 <= x0 || y1 <= y0) return;
        const img = ctx.getImageData(x0, y0, x1 - x0, y1 - y0);
        const px = img.data;
        let o = Math.floor(rand() * noise.length);
        for (let p = 0; p < px.length; p += 4) {
          px[p] += noise[o++ & 0xffff];
          px[p + 1] += noise[o++ & 0xffff];
          px[p + 2] += noise[o++ & 0xffff];
        }
        ctx.putImageData(img, x0, y0);
      }
    } finally {
      drawing = false;
    }
  }

  function startStream() {
    if (!stream) {
      stream = canvas.captureStream(cfg.fps);
      for (let i = 0; i < cfg.frames.length; i++) blob(i).catch(() => {});
      timer = setInterval(draw, PERIOD);
    }
    return stream;
  }

  const md = navigator.mediaDevices;
  const origGUM = md.getUserMedia.bind(md);
  const device = {
    deviceId: 'faceproof-e2e-reactive',
    groupId: 'faceproof-e2e',
    kind: 'videoinput',
    label: cfg.label,
    toJSON() { return { deviceId: this.deviceId, groupId: this.groupId, kind: this.kind, label: this.label }; },
  };
  md.getUserMedia = async (constraints) => {
    if (!constraints || !constraints.video) return origGUM(constraints);
    const track = startStream().getVideoTracks()[0].clone();
    return new MediaStream([track]);
  };
  md.enumerateDevices = async () => [device];

  window.__faceproofE2E = { log, state, canvas, stop: () => clearInterval(timer) };
})();
