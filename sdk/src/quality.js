/**
 * On-device quality and guidance, from the detector box, the face mesh and the face's
 * pixels: the oval test of the challenge protocol (§2), head pose, eye openness (the
 * server's mesh-lid eye aspect ratio and calibration), exposure and stability. Pure.
 * @module quality
 */

/** @typedef {{cx: number, cy: number, h: number}} Oval  frame-relative centre, height/H */
/** @typedef {{center: number, size_min: number, size_max: number}} OvalTolerance */

/** The first oval (main frame) and its tolerance when no challenge says otherwise. */
export const DEFAULT_OVAL = Object.freeze({ cx: 0.5, cy: 0.5, h: 0.6 });
export const DEFAULT_TOLERANCE = Object.freeze({ center: 0.12, size_min: 0.5, size_max: 0.95 });

export const LIMITS = Object.freeze({
  yaw: 18, // degrees
  pitch: 18,
  roll: 15,
  dark: 60, // mean face luma (0–255) below: too dark
  bright: 210, // above: too bright
  saturated: 0.25, // fraction of face pixels ≥ 250: too bright
  motion: 0.06, // box-centre shift between analysed frames, in box heights
  eyesOpen: 10, // eyes_opening_grade ≥ this: OPEN (the server's cut)
  minMeshScore: 0.5,
});

// Mesh eyelids (src/faceproof/quality/mesh_regions.py): corners, then matched lower/upper pairs.
const EYES = [
  { corners: [33, 133], lower: [7, 163, 144, 145, 153, 154, 155], upper: [246, 161, 160, 159, 158, 157, 173] },
  { corners: [263, 362], lower: [249, 390, 373, 374, 380, 381, 382], upper: [466, 388, 387, 386, 385, 384, 398] },
];
const EAR_CLOSED = 0.16;
const EAR_WIDE = 0.36;

/**
 * Is the face box in the oval (challenge protocol §2, frame pixels)?
 * @param {number[]} box [x0, y0, x1, y1]
 * @param {Oval} oval @param {OvalTolerance} tol @param {number} W @param {number} H
 * @returns {{inside: boolean, ratio: number, dx: number, dy: number, issue: null | 'far' | 'close' | 'off'}}
 */
export function ovalFit(box, oval, tol, W, H) {
  const bx = (box[0] + box[2]) / 2;
  const by = (box[1] + box[3]) / 2;
  const bh = box[3] - box[1];
  const dx = bx - oval.cx * W;
  const dy = by - oval.cy * H;
  const ratio = bh / (oval.h * H);
  const centred = Math.abs(dx) <= tol.center * H && Math.abs(dy) <= tol.center * H;
  let issue = /** @type {null | 'far' | 'close' | 'off'} */ (null);
  if (ratio < tol.size_min) issue = 'far';
  else if (ratio > tol.size_max) issue = 'close';
  else if (!centred) issue = 'off';
  return { inside: issue === null, ratio, dx, dy, issue };
}

/** @param {ArrayLike<number>} m @param {number} i */
const P = (m, i) => [m[3 * i], m[3 * i + 1], m[3 * i + 2]];
const deg = (r) => (r * 180) / Math.PI;

/**
 * Head pose from the mesh, in the server's conventions (src/faceproof/face/pose.py):
 * yaw > 0 turned towards the image right, pitch > 0 looking up, roll = eye-line angle.
 * Mesh z grows away from the camera and is in the same pixel scale as x and y.
 * @param {ArrayLike<number>} mesh 468×3 image pixels
 */
export function headPose(mesh) {
  const l = P(mesh, 234), r = P(mesh, 454), top = P(mesh, 10), chin = P(mesh, 152);
  const e0 = P(mesh, 33), e1 = P(mesh, 263);
  const roll = Math.atan2(e1[1] - e0[1], e1[0] - e0[0]);
  const c = Math.cos(-roll), s = Math.sin(-roll);
  // De-roll x/y so yaw and pitch do not leak into each other for a tilted head.
  const rx = (p) => c * p[0] - s * p[1];
  const ry = (p) => s * p[0] + c * p[1];
  const yaw = Math.atan2(r[2] - l[2], rx(r) - rx(l));
  const pitch = Math.atan2(top[2] - chin[2], ry(chin) - ry(top));
  return { yaw: deg(yaw), pitch: deg(pitch) - PITCH_BIAS, roll: deg(roll) };
}
/** Frontal faces read a few degrees of mesh pitch (forehead sits behind the chin). */
export const PITCH_BIAS = 0;

/**
 * Eye openness 0–100 (server calibration for mesh lids) and status.
 * @param {ArrayLike<number>} mesh
 */
export function eyesOpenness(mesh) {
  let sum = 0;
  for (const eye of EYES) {
    const a = P(mesh, eye.corners[0]), b = P(mesh, eye.corners[1]);
    const width = Math.hypot(b[0] - a[0], b[1] - a[1]);
    let gaps = 0;
    for (let k = 1; k < 6; k++) {
      const lo = P(mesh, eye.lower[k]), up = P(mesh, eye.upper[k]);
      gaps += Math.hypot(up[0] - lo[0], up[1] - lo[1]);
    }
    sum += width > 1e-6 ? gaps / 5 / width : 0;
  }
  const ear = sum / 2;
  const grade = Math.max(0, Math.min(100, (100 * (ear - EAR_CLOSED)) / (EAR_WIDE - EAR_CLOSED)));
  return { ear, grade, status: grade >= LIMITS.eyesOpen ? 'OPEN' : 'CLOSED' };
}

/**
 * @typedef {object} FrameAnalysis
 * @property {number} W @property {number} H
 * @property {import('./blazeface.js').Detection[]} detections best first
 * @property {Float32Array | null} mesh 468×3 image pixels, or null
 * @property {number} meshScore
 * @property {{mean: number, saturated: number} | null} light face luma stats
 * @property {number[] | null} previousBox box of the previous analysed frame
 */

/**
 * Guidance for one analysed frame: the feedback key to show (reference localization keys),
 * whether it is good enough to count towards the capture streak, and the metadata.
 * @param {FrameAnalysis} a
 * @param {{oval: Oval, tolerance: OvalTolerance, eyes: boolean}} target
 */
export function assess(a, target) {
  const face = a.detections[0];
  if (!face) return { ok: false, feedback: 'FEEDBACK_INSIDE_GUIDE', metrics: null, fit: null };
  const fit = ovalFit(face.box, target.oval, target.tolerance, a.W, a.H);
  const bh = face.box[3] - face.box[1];
  const others = a.detections.slice(1).filter((d) => d.box[3] - d.box[1] > 0.5 * bh);
  /** @type {Record<string, number | string | boolean>} */
  const metrics = { face_score: round(face.score, 3), face_height_ratio: round(bh / a.H, 3), oval_size_ratio: round(fit.ratio, 3) };
  let feedback = null;
  if (others.length) feedback = 'FEEDBACK_MULTIPLE_FACES';
  else if (fit.issue === 'far') feedback = 'FEEDBACK_FAR';
  else if (fit.issue === 'close') feedback = 'FEEDBACK_CLOSE';
  else if (fit.issue === 'off') feedback = 'FEEDBACK_NOT_CENTERED';
  let poseOk = false;
  if (a.light) {
    metrics.brightness = round(a.light.mean, 1);
    metrics.saturated_fraction = round(a.light.saturated, 3);
    if (!feedback && a.light.mean < LIMITS.dark) feedback = 'FEEDBACK_CHANGE_LIGHT_TOO_DARK';
    if (!feedback && (a.light.mean > LIMITS.bright || a.light.saturated > LIMITS.saturated)) {
      feedback = 'FEEDBACK_CHANGE_LIGHT_TOO_BRIGHT';
    }
  }
  if (a.mesh && a.meshScore >= LIMITS.minMeshScore) {
    const pose = headPose(a.mesh);
    metrics.yaw = round(pose.yaw, 1);
    metrics.pitch = round(pose.pitch, 1);
    metrics.roll = round(pose.roll, 1);
    poseOk = Math.abs(pose.yaw) <= LIMITS.yaw && Math.abs(pose.pitch) <= LIMITS.pitch && Math.abs(pose.roll) <= LIMITS.roll;
    if (!feedback && Math.abs(pose.yaw) > LIMITS.yaw) {
      // The user sees a mirror: a face turned to the image right looks to the user's left.
      feedback = pose.yaw > 0 ? 'FEEDBACK_LEFT_FACING' : 'FEEDBACK_RIGHT_FACING';
    }
    if (!feedback && Math.abs(pose.pitch) > LIMITS.pitch) feedback = pose.pitch > 0 ? 'FEEDBACK_UP_FACING' : 'FEEDBACK_DOWN_FACING';
    if (!feedback && Math.abs(pose.roll) > LIMITS.roll) feedback = 'FEEDBACK_ROTATED';
    const eyes = eyesOpenness(a.mesh);
    metrics.eyes_opening_grade = round(eyes.grade, 1);
    metrics.eyes_status = eyes.status;
    if (!feedback && target.eyes && eyes.status === 'CLOSED') feedback = 'FEEDBACK_EYES_CLOSED';
  } else if (!feedback) {
    feedback = 'FEEDBACK_EYE_LEVEL';
  }
  if (!feedback && a.previousBox) {
    const pb = a.previousBox;
    const shift = Math.hypot((face.box[0] + face.box[2] - pb[0] - pb[2]) / 2, (face.box[1] + face.box[3] - pb[1] - pb[3]) / 2);
    metrics.motion = round(shift / bh, 3);
    if (shift / bh > LIMITS.motion) feedback = 'FEEDBACK_NOT_STABLE';
  }
  metrics.head_pose_check = poseOk;
  metrics.quality_metric = qualityMetric(fit, metrics, poseOk);
  return { ok: feedback === null, feedback: feedback ?? 'FEEDBACK_OK', metrics, fit };
}

/** 0–100: how well the frame meets every guidance target (100 = all comfortably met). */
function qualityMetric(fit, m, poseOk) {
  let q = 100;
  const sizeMid = 0.75;
  q -= Math.min(40, Math.abs(fit.ratio - sizeMid) * 80);
  if (typeof m.brightness === 'number') q -= Math.min(30, Math.max(0, Math.abs(m.brightness - 135) - 40) * 0.6);
  if (!poseOk) q -= 25;
  if (typeof m.eyes_opening_grade === 'number' && m.eyes_status === 'CLOSED') q -= 30;
  return Math.max(0, Math.min(100, Math.round(q)));
}

/** @param {number} v @param {number} d */
function round(v, d) {
  const k = 10 ** d;
  return Math.round(v * k) / k;
}

/**
 * Mean luma and saturated fraction inside the central part of the face box.
 * @param {Uint8ClampedArray} rgba W×H RGBA
 * @param {number} W @param {number} H @param {number[]} box
 */
export function faceLight(rgba, W, H, box) {
  const w = box[2] - box[0], h = box[3] - box[1];
  const x0 = Math.max(0, Math.floor(box[0] + 0.2 * w)), x1 = Math.min(W, Math.ceil(box[2] - 0.2 * w));
  const y0 = Math.max(0, Math.floor(box[1] + 0.2 * h)), y1 = Math.min(H, Math.ceil(box[3] - 0.15 * h));
  let sum = 0, sat = 0, n = 0;
  for (let y = y0; y < y1; y += 2) {
    for (let x = x0; x < x1; x += 2) {
      const i = 4 * (y * W + x);
      const l = 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2];
      sum += l;
      if (l >= 250) sat++;
      n++;
    }
  }
  return n ? { mean: sum / n, saturated: sat / n } : null;
}
