import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crop43 } from '../../src/camera.js';
import { cropToImage, detectionRoi, imageToCrop, meshRoi, projectMesh } from '../../src/facemesh.js';

const close = (a, b, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

test('4:3 centre crop of any camera size', () => {
  assert.deepEqual(crop43(640, 480), { x: 0, y: 0, w: 640, h: 480 });
  assert.deepEqual(crop43(1280, 720), { x: 160, y: 0, w: 960, h: 720 });
  assert.deepEqual(crop43(480, 640), { x: 0, y: 140, w: 480, h: 360 });
});

test('face-mesh ROI from a detection: box centre, 1.5 × the larger side, eye-line angle', () => {
  const roi = detectionRoi({ box: [100, 50, 200, 170], score: 0.9, keypoints: [[130, 90], [170, 130], [0, 0], [0, 0], [0, 0], [0, 0]] });
  close(roi.cx, 150);
  close(roi.cy, 110);
  close(roi.size, 180);
  close(roi.angle, Math.PI / 4);
});

test('crop ↔ image maps are inverse; the crop centre is the ROI centre', () => {
  const roi = { cx: 320, cy: 240, size: 200, angle: 0.4 };
  const f = cropToImage(roi, 192);
  const g = imageToCrop(roi, 192);
  for (const [u, v] of [[0, 0], [96, 96], [191, 17]]) {
    const x = f[0] * u + f[2] * v + f[4];
    const y = f[1] * u + f[3] * v + f[5];
    close(g[0] * x + g[2] * y + g[4], u);
    close(g[1] * x + g[3] * y + g[5], v);
  }
  close(f[0] * 96 + f[2] * 96 + f[4], 320);
  close(f[1] * 96 + f[3] * 96 + f[5], 240);
  const pts = projectMesh(Float32Array.from([96, 96, 10]), roi, 192);
  close(pts[0], 320, 1e-3);
  close(pts[1], 240, 1e-3);
  close(pts[2], (10 * 200) / 192, 1e-3);
});

test('ROI from a mesh: rotated extent along the outer eye corners (33 → 263)', () => {
  const mesh = new Float32Array(468 * 3);
  const a = 0.3, c = Math.cos(a), s = Math.sin(a);
  // A 100 × 60 rectangle of points centred at (300, 200), rotated by a.
  const put = (i, u, v) => { mesh[3 * i] = 300 + c * u - s * v; mesh[3 * i + 1] = 200 + s * u + c * v; };
  for (let i = 0; i < 468; i++) put(i, -50 + (i % 11) * 10, -30 + (Math.floor(i / 11) % 7) * 10);
  put(33, -40, 0);
  put(263, 40, 0);
  const roi = meshRoi(mesh, 1.5);
  close(roi.angle, a, 1e-5);
  close(roi.cx, 300, 1e-3);
  close(roi.cy, 200, 1e-3);
  close(roi.size, 150, 1e-3);
});
