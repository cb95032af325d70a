import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_OVAL, DEFAULT_TOLERANCE, assess, faceLight, headPose } from '../../src/quality.js';

const W = 640, H = 480;
const target = { oval: DEFAULT_OVAL, tolerance: DEFAULT_TOLERANCE, eyes: true };
// A face box filling the default oval at the middle of its size tolerance, centred.
const bh = DEFAULT_OVAL.h * H * 0.72;
const BOX = [W / 2 - bh / 2, H / 2 - bh / 2, W / 2 + bh / 2, H / 2 + bh / 2];
const det = (box = BOX) => ({ box, score: 0.95, keypoints: [[0, 0], [1, 0], [0, 0], [0, 0], [0, 0], [0, 0]] });

/** A frontal mesh: points on a plane z = 0 except those the pose and eyes read. */
function mesh({ yaw = 0, pitch = 0, eyeGap = 8 } = {}) {
  const m = new Float32Array(468 * 3);
  const put = (i, x, y, z = 0) => { m[3 * i] = x; m[3 * i + 1] = y; m[3 * i + 2] = z; };
  const r = (d) => (d * Math.PI) / 180;
  // A rigid turn moves the cheeks (±70 px) and the forehead/chin (±100 px) in depth.
  put(234, 250, 240, -70 * Math.tan(r(yaw))); // image-left cheek
  put(454, 390, 240, 70 * Math.tan(r(yaw)));
  put(10, 320, 140, 100 * Math.tan(r(pitch)));
  put(152, 320, 340, -100 * Math.tan(r(pitch)));
  const eyes = [
    [[33, 133], [7, 163, 144, 145, 153, 154, 155], [246, 161, 160, 159, 158, 157, 173], 270],
    [[362, 263], [249, 390, 373, 374, 380, 381, 382], [466, 388, 387, 386, 385, 384, 398], 370],
  ];
  // corners listed image-left first: 33 (outer) / 133 and 362 / 263 (outer)
  for (const [c, lo, up, x0] of eyes) {
    put(c[0], x0 - 20, 220); put(c[1], x0 + 20, 220);
    lo.forEach((i, k) => put(i, x0 - 15 + 5 * k, 220 + eyeGap / 2));
    up.forEach((i, k) => put(i, x0 - 15 + 5 * k, 220 - eyeGap / 2));
  }
  // (outer eye corners 33 and 263 are level: no roll)
  return m;
}
const light = { mean: 130, saturated: 0 };
const frame = (over = {}) => ({ W, H, detections: [det()], mesh: mesh(), meshScore: 0.99, light, previousBox: BOX, ...over });

test('a good frame holds; its metadata has the documented fields', () => {
  const q = assess(frame(), target);
  assert.equal(q.ok, true);
  assert.equal(q.feedback, 'FEEDBACK_OK');
  assert.equal(q.metrics.head_pose_check, true);
  assert.equal(q.metrics.eyes_status, 'OPEN');
  assert.ok(q.metrics.quality_metric >= 70 && q.metrics.quality_metric <= 100);
});

test('guidance, one cause at a time', () => {
  const cases = [
    [{ detections: [] }, 'FEEDBACK_INSIDE_GUIDE'],
    [{ detections: [det(), det([10, 10, 10 + bh, 10 + bh])] }, 'FEEDBACK_MULTIPLE_FACES'],
    [{ detections: [det([300, 220, 340, 260])], previousBox: null }, 'FEEDBACK_FAR'],
    [{ detections: [det([100, 0, 540, 480])], previousBox: null }, 'FEEDBACK_CLOSE'],
    [{ detections: [det(BOX.map((v, i) => (i % 2 === 0 ? v + 120 : v)))], previousBox: null }, 'FEEDBACK_NOT_CENTERED'],
    [{ light: { mean: 30, saturated: 0 } }, 'FEEDBACK_CHANGE_LIGHT_TOO_DARK'],
    [{ light: { mean: 235, saturated: 0.5 } }, 'FEEDBACK_CHANGE_LIGHT_TOO_BRIGHT'],
    [{ mesh: mesh({ yaw: 30 }) }, 'FEEDBACK_LEFT_FACING'],
    [{ mesh: mesh({ yaw: -30 }) }, 'FEEDBACK_RIGHT_FACING'],
    [{ mesh: mesh({ pitch: 30 }) }, 'FEEDBACK_UP_FACING'],
    [{ mesh: mesh({ pitch: -30 }) }, 'FEEDBACK_DOWN_FACING'],
    [{ mesh: mesh({ eyeGap: 1 }) }, 'FEEDBACK_EYES_CLOSED'],
    [{ previousBox: BOX.map((v, i) => (i % 2 === 0 ? v + 30 : v)) }, 'FEEDBACK_NOT_STABLE'],
  ];
  for (const [over, key] of cases) {
    const q = assess(frame(over), target);
    assert.equal(q.feedback, key, JSON.stringify(Object.keys(over)));
    assert.equal(q.ok, false);
  }
  // Closed eyes do not hold back a frame when the eyes detector is off.
  assert.equal(assess(frame({ mesh: mesh({ eyeGap: 1 }) }), { ...target, eyes: false }).ok, true);
});

test('head pose signs follow the server (yaw > 0 turned to the image right, pitch > 0 up)', () => {
  const p = headPose(mesh({ yaw: 20, pitch: -10 }));
  assert.ok(Math.abs(p.yaw - 20) < 0.5 && Math.abs(p.pitch + 10) < 0.5 && Math.abs(p.roll) < 0.5, JSON.stringify(p));
});

test('face light: mean luma and saturated share inside the face box', () => {
  const w = 20, h = 20;
  const rgba = new Uint8ClampedArray(w * h * 4).fill(255);
  for (let i = 0; i < w * h; i++) { rgba[4 * i] = 100; rgba[4 * i + 1] = 100; rgba[4 * i + 2] = 100; }
  const l = faceLight(rgba, w, h, [0, 0, 20, 20]);
  assert.ok(Math.abs(l.mean - 100) < 1e-6);
  assert.equal(l.saturated, 0);
});
