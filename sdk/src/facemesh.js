/**
 * Face-mesh region of interest (the server's src/faceproof/models/facemesh.py, MediaPipe's
 * rules): from a detection, a square of 1.5 × max(box w, h) around the box centre, rotated so
 * the eye keypoints are level; from a previous mesh, the same rule on the mesh's extent
 * measured along the outer eye corners (33 → 263). The mesh model takes the 192² crop as RGB
 * in [0, 1] and returns 468 (x, y, z) points in crop pixels.
 * @module facemesh
 */

export const MESH_INPUT = 192;
export const NUM_POINTS = 468;
export const ROI_SCALE = 1.5;
export const OUTER_EYE_CORNERS = /** @type {const} */ ([33, 263]);

/** @typedef {{cx: number, cy: number, size: number, angle: number}} Roi */

/**
 * @param {import('./blazeface.js').Detection} det
 * @returns {Roi}
 */
export function detectionRoi(det, scale = ROI_SCALE) {
  const [x0, y0, x1, y1] = det.box;
  const [r, l] = det.keypoints;
  return {
    cx: (x0 + x1) / 2,
    cy: (y0 + y1) / 2,
    size: Math.max(x1 - x0, y1 - y0) * scale,
    angle: Math.atan2(l[1] - r[1], l[0] - r[0]),
  };
}

/**
 * ROI from a mesh (flat x, y, z triples in image pixels).
 * @param {Float32Array | number[]} mesh
 * @returns {Roi}
 */
export function meshRoi(mesh, scale = ROI_SCALE) {
  const [s, e] = OUTER_EYE_CORNERS;
  const angle = Math.atan2(mesh[3 * e + 1] - mesh[3 * s + 1], mesh[3 * e] - mesh[3 * s]);
  const c = Math.cos(angle);
  const sn = Math.sin(angle);
  let lox = Infinity, loy = Infinity, hix = -Infinity, hiy = -Infinity;
  for (let i = 0; i < mesh.length / 3; i++) {
    const x = mesh[3 * i], y = mesh[3 * i + 1];
    const u = c * x + sn * y;
    const v = -sn * x + c * y;
    if (u < lox) lox = u;
    if (u > hix) hix = u;
    if (v < loy) loy = v;
    if (v > hiy) hiy = v;
  }
  const mu = (lox + hix) / 2, mv = (loy + hiy) / 2;
  return { cx: c * mu - sn * mv, cy: sn * mu + c * mv, size: Math.max(hix - lox, hiy - loy) * scale, angle };
}

/**
 * The affine map crop → image as canvas `setTransform` arguments would invert it: returns
 * [a, b, c, d, e, f] with x_img = a·u + c·v + e, y_img = b·u + d·v + f for crop (u, v).
 * @param {Roi} roi @param {number} n crop side
 */
export function cropToImage(roi, n = MESH_INPUT) {
  const k = roi.size / n;
  const c = Math.cos(roi.angle) * k;
  const s = Math.sin(roi.angle) * k;
  const e = roi.cx - (c * n) / 2 + (s * n) / 2;
  const f = roi.cy - (s * n) / 2 - (c * n) / 2;
  return [c, s, -s, c, e, f];
}

/**
 * The inverse (image → crop), for drawing the frame into the crop canvas.
 * @param {Roi} roi @param {number} n
 */
export function imageToCrop(roi, n = MESH_INPUT) {
  const [a, b, c, d, e, f] = cropToImage(roi, n);
  const det = a * d - b * c;
  const ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
  return [ia, ib, ic, id, -(ia * e + ic * f), -(ib * e + id * f)];
}

/**
 * Projects the model's crop points to image pixels (z scaled like x and y).
 * @param {Float32Array} points 468×3 in crop pixels
 * @param {Roi} roi @param {number} [n]
 * @returns {Float32Array}
 */
export function projectMesh(points, roi, n = MESH_INPUT) {
  const [a, b, c, d, e, f] = cropToImage(roi, n);
  const k = roi.size / n;
  const out = new Float32Array(points.length);
  for (let i = 0; i < points.length / 3; i++) {
    const u = points[3 * i], v = points[3 * i + 1];
    out[3 * i] = a * u + c * v + e;
    out[3 * i + 1] = b * u + d * v + f;
    out[3 * i + 2] = points[3 * i + 2] * k;
  }
  return out;
}
