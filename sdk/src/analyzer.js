/**
 * Per-frame analysis in the browser: BlazeFace on the letterboxed frame, then the face
 * mesh on MediaPipe's ROI (tracked from the previous mesh when the face stays put), and the
 * face's exposure. Canvases are reused; nothing is kept beyond the last mesh.
 * @module analyzer
 */
import { INPUT_SIZE, NUM_ANCHORS, decode, letterbox } from './blazeface.js';
import { MESH_INPUT, NUM_POINTS, detectionRoi, imageToCrop, meshRoi, projectMesh } from './facemesh.js';
import { faceLight } from './quality.js';
import { Model } from './runtime.js';

/** @param {number} w @param {number} h */
export function makeCanvas(w, h) {
  if (typeof OffscreenCanvas === 'function') return new OffscreenCanvas(w, h);
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  return c;
}

/** @param {OffscreenCanvas | HTMLCanvasElement} c */
export function ctx2d(c) {
  const ctx = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d', { willReadFrequently: true, alpha: false }));
  if (!ctx) throw new Error('2D canvas unavailable');
  return ctx;
}

export class Analyzer {
  /** @param {any} core LiteRT module @param {Record<string, Uint8Array>} models */
  static async create(core, models) {
    const [det, mesh] = await Promise.all([
      Model.compile(core, models.face_detector),
      Model.compile(core, models.face_mesh),
    ]);
    const an = new Analyzer(det, mesh);
    // One inference each at start-up: the runtime's first run allocates and plans, which
    // would otherwise delay the first feedback of the first capture.
    await det.run(an.detInput, [1, INPUT_SIZE, INPUT_SIZE, 3]);
    await mesh.run(an.meshInput, [1, MESH_INPUT, MESH_INPUT, 3]);
    return an;
  }

  /** @param {Model} det @param {Model} mesh */
  constructor(det, mesh) {
    this.det = det;
    this.mesh = mesh;
    this.regIdx = det.outputIndex(NUM_ANCHORS * 16);
    this.clsIdx = det.outputIndex(NUM_ANCHORS);
    this.meshIdx = mesh.outputIndex(NUM_POINTS * 3);
    this.flagIdx = mesh.outputIndex(1);
    this.detCanvas = makeCanvas(INPUT_SIZE, INPUT_SIZE);
    this.detCtx = ctx2d(this.detCanvas);
    this.meshCanvas = makeCanvas(MESH_INPUT, MESH_INPUT);
    this.meshCtx = ctx2d(this.meshCanvas);
    this.detInput = new Float32Array(INPUT_SIZE * INPUT_SIZE * 3);
    this.meshInput = new Float32Array(MESH_INPUT * MESH_INPUT * 3);
    /** @type {Float32Array | null} */
    this.lastMesh = null;
    /** @type {number[] | null} */
    this.lastBox = null;
  }

  /** Forget tracking state (new capture, new camera). */
  reset() {
    this.lastMesh = null;
    this.lastBox = null;
  }

  /**
   * @param {CanvasImageSource} frame the W×H frame canvas
   * @param {CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D} frameCtx
   * @param {number} W @param {number} H
   * @param {{mesh?: boolean}} [opts]
   */
  async analyze(frame, frameCtx, W, H, opts = {}) {
    const t0 = performance.now();
    const lb = letterbox(W, H, INPUT_SIZE);
    const dc = this.detCtx;
    dc.setTransform(1, 0, 0, 1, 0, 0);
    dc.fillStyle = '#000';
    dc.fillRect(0, 0, INPUT_SIZE, INPUT_SIZE);
    dc.drawImage(frame, lb.offX, lb.offY, lb.newW, lb.newH);
    toFloat(dc.getImageData(0, 0, INPUT_SIZE, INPUT_SIZE).data, this.detInput, 1 / 127.5, -1);
    const outs = await this.det.run(this.detInput, [1, INPUT_SIZE, INPUT_SIZE, 3]);
    const detections = decode(outs[this.regIdx], outs[this.clsIdx], lb);
    const t1 = performance.now();
    /** @type {Float32Array | null} */
    let mesh = null;
    let meshScore = 0;
    let light = null;
    const face = detections[0];
    if (face) {
      if (opts.mesh !== false) {
        const roi = this.lastMesh && this.lastBox && overlaps(this.lastBox, face.box) ? meshRoi(this.lastMesh) : detectionRoi(face);
        const mc = this.meshCtx;
        mc.setTransform(1, 0, 0, 1, 0, 0);
        mc.fillStyle = '#000';
        mc.fillRect(0, 0, MESH_INPUT, MESH_INPUT);
        const m = imageToCrop(roi, MESH_INPUT);
        mc.setTransform(m[0], m[1], m[2], m[3], m[4], m[5]);
        mc.drawImage(frame, 0, 0);
        mc.setTransform(1, 0, 0, 1, 0, 0);
        toFloat(mc.getImageData(0, 0, MESH_INPUT, MESH_INPUT).data, this.meshInput, 1 / 255, 0);
        const mo = await this.mesh.run(this.meshInput, [1, MESH_INPUT, MESH_INPUT, 3]);
        const logit = Math.max(-60, Math.min(60, mo[this.flagIdx][0]));
        meshScore = 1 / (1 + Math.exp(-logit));
        mesh = projectMesh(mo[this.meshIdx], roi, MESH_INPUT);
      }
      const [x0, y0, x1, y1] = face.box.map((v) => Math.round(v));
      const bx = Math.max(0, x0), by = Math.max(0, y0);
      const bw = Math.min(W, x1) - bx, bh = Math.min(H, y1) - by;
      if (bw > 4 && bh > 4) {
        const img = frameCtx.getImageData(bx, by, bw, bh);
        light = faceLight(img.data, bw, bh, [face.box[0] - bx, face.box[1] - by, face.box[2] - bx, face.box[3] - by]);
      }
    }
    const previousBox = this.lastBox;
    this.lastMesh = mesh && meshScore >= 0.5 ? mesh : null;
    this.lastBox = face ? face.box : null;
    const t2 = performance.now();
    return { W, H, detections, mesh, meshScore, light, previousBox, timings: { detect: t1 - t0, mesh: t2 - t1 } };
  }

  delete() {
    this.det.delete();
    this.mesh.delete();
  }
}

/** @param {number[]} a @param {number[]} b */
function overlaps(a, b) {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 && inter / union > 0.5;
}

/** RGBA bytes → RGB floats `v·scale + offset`. @param {Uint8ClampedArray} rgba @param {Float32Array} out */
function toFloat(rgba, out, scale, offset) {
  for (let i = 0, j = 0; j < out.length; i += 4, j += 3) {
    out[j] = rgba[i] * scale + offset;
    out[j + 1] = rgba[i + 1] * scale + offset;
    out[j + 2] = rgba[i + 2] * scale + offset;
  }
}
