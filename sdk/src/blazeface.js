/**
 * BlazeFace short-range decoding (the server's src/faceproof/models/blazeface.py, same
 * parameters): 896 SSD anchors on a 128² letterboxed input (strides 8, 16, 16, 16; two
 * anchors per cell, layers of equal stride share a feature map), regressions in input pixels
 * relative to the anchor centre, sigmoid scores clipped at ±100, weighted NMS (IoU 0.3).
 * Pure functions, so Node tests and the browser run the same code.
 * @module blazeface
 */

export const INPUT_SIZE = 128;
export const STRIDES = [8, 16, 16, 16];
export const ANCHORS_PER_LAYER = 2;
export const NUM_ANCHORS = 896;
export const NUM_KEYPOINTS = 6;
const SCORE_CLIP = 100;

/**
 * Normalised anchor centres (x, y), in the order the model emits its boxes.
 * @returns {Float32Array} length 2·N
 */
export function anchorCentres(inputSize = INPUT_SIZE, strides = STRIDES, perLayer = ANCHORS_PER_LAYER) {
  /** @type {number[]} */
  const out = [];
  let i = 0;
  while (i < strides.length) {
    const stride = strides[i];
    let layers = 1;
    while (i + layers < strides.length && strides[i + layers] === stride) layers++;
    const side = Math.ceil(inputSize / stride);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        for (let k = 0; k < layers * perLayer; k++) out.push((x + 0.5) / side, (y + 0.5) / side);
      }
    }
    i += layers;
  }
  return Float32Array.from(out);
}

/**
 * Where a W×H image lands in the size² letterboxed square (aspect kept, centred, black
 * padding): `x_img = (x_sq − offX) / sx`.
 * @param {number} w @param {number} h @param {number} [size]
 */
export function letterbox(w, h, size = INPUT_SIZE) {
  const scale = size / Math.max(w, h);
  const newW = Math.max(1, Math.round(w * scale));
  const newH = Math.max(1, Math.round(h * scale));
  const offX = Math.floor((size - newW) / 2);
  const offY = Math.floor((size - newH) / 2);
  return { newW, newH, offX, offY, sx: newW / w, sy: newH / h, size };
}

/**
 * @typedef {{box: [number, number, number, number], score: number, keypoints: Array<[number, number]>}} Detection
 * Box is [x0, y0, x1, y1] in image pixels; keypoints: right eye, left eye (image left/right
 * order as the model emits), nose, mouth, right ear, left ear.
 */

/** @param {number[]} a @param {number[]} b */
function iou(a, b) {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Decodes the model's raw outputs into detections in image pixels, best first.
 * @param {Float32Array} regressors N×16
 * @param {Float32Array} logits N
 * @param {ReturnType<typeof letterbox>} lb
 * @param {{scoreThreshold?: number, iouThreshold?: number, anchors?: Float32Array}} [opts]
 * @returns {Detection[]}
 */
export function decode(regressors, logits, lb, opts = {}) {
  const scoreThreshold = opts.scoreThreshold ?? 0.5;
  const iouThreshold = opts.iouThreshold ?? 0.3;
  const anchors = opts.anchors ?? ANCHORS;
  const n = logits.length;
  const size = lb.size;
  /** @type {{box: number[], kps: number[], score: number}[]} */
  const cands = [];
  for (let i = 0; i < n; i++) {
    const logit = Math.max(-SCORE_CLIP, Math.min(SCORE_CLIP, logits[i]));
    const score = 1 / (1 + Math.exp(-logit));
    if (!(score >= scoreThreshold)) continue;
    const r = i * 16;
    const bw = regressors[r + 2];
    const bh = regressors[r + 3];
    if (!(bw > 0 && bh > 0)) continue;
    const ax = anchors[2 * i] * size;
    const ay = anchors[2 * i + 1] * size;
    const cx = regressors[r] + ax;
    const cy = regressors[r + 1] + ay;
    const box = [
      (cx - bw / 2 - lb.offX) / lb.sx,
      (cy - bh / 2 - lb.offY) / lb.sy,
      (cx + bw / 2 - lb.offX) / lb.sx,
      (cy + bh / 2 - lb.offY) / lb.sy,
    ];
    const kps = [];
    for (let k = 0; k < NUM_KEYPOINTS; k++) {
      kps.push((regressors[r + 4 + 2 * k] + ax - lb.offX) / lb.sx, (regressors[r + 5 + 2 * k] + ay - lb.offY) / lb.sy);
    }
    cands.push({ box, kps, score });
  }
  return weightedNms(cands, iouThreshold);
}

/**
 * MediaPipe's weighted NMS: the best box gathers every remaining box overlapping it by more
 * than the threshold; the detection is their score-weighted mean, with the best score.
 * @param {{box: number[], kps: number[], score: number}[]} cands
 * @param {number} iouThreshold
 * @returns {Detection[]}
 */
export function weightedNms(cands, iouThreshold) {
  // Stable sort by descending score (ties keep anchor order, like numpy's stable argsort).
  let remaining = cands.map((c, i) => ({ c, i })).sort((a, b) => b.c.score - a.c.score || a.i - b.i).map((x) => x.c);
  /** @type {Detection[]} */
  const out = [];
  while (remaining.length) {
    const top = remaining[0];
    const cluster = [];
    const rest = [];
    for (let j = 0; j < remaining.length; j++) {
      const o = j === 0 ? 1 : iou(top.box, remaining[j].box);
      (o > iouThreshold ? cluster : rest).push(remaining[j]);
    }
    remaining = rest;
    const total = cluster.reduce((s, c) => s + c.score, 0);
    const box = [0, 0, 0, 0];
    const kps = new Array(NUM_KEYPOINTS * 2).fill(0);
    for (const c of cluster) {
      const w = c.score / total;
      for (let k = 0; k < 4; k++) box[k] += c.box[k] * w;
      for (let k = 0; k < kps.length; k++) kps[k] += c.kps[k] * w;
    }
    /** @type {Array<[number, number]>} */
    const keypoints = [];
    for (let k = 0; k < NUM_KEYPOINTS; k++) keypoints.push([kps[2 * k], kps[2 * k + 1]]);
    out.push({ box: /** @type {[number, number, number, number]} */ (box), score: top.score, keypoints });
  }
  return out;
}

export const ANCHORS = anchorCentres();
