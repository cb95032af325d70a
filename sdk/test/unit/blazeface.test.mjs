import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANCHORS, NUM_ANCHORS, anchorCentres, decode, letterbox, weightedNms } from '../../src/blazeface.js';

test('896 anchors: 16×16 cells ×2 then 8×8 cells ×6, row-major', () => {
  assert.equal(ANCHORS.length, 2 * NUM_ANCHORS);
  // first cell of the stride-8 map, both anchors
  assert.deepEqual([...ANCHORS.slice(0, 4)], [0.5 / 16, 0.5 / 16, 0.5 / 16, 0.5 / 16]);
  // second cell moves along x
  assert.ok(Math.abs(ANCHORS[4] - 1.5 / 16) < 1e-7 && Math.abs(ANCHORS[5] - 0.5 / 16) < 1e-7);
  // the 16×16 map ends at 512 anchors; the 8×8 map (three layers × 2) starts there
  assert.ok(Math.abs(ANCHORS[2 * 512] - 0.5 / 8) < 1e-7);
  assert.ok(Math.abs(ANCHORS[2 * 517 + 0] - 0.5 / 8) < 1e-7); // 6 anchors share the first cell
  assert.ok(Math.abs(ANCHORS[2 * 518] - 1.5 / 8) < 1e-7);
  assert.equal(anchorCentres(192, [4], 1).length, 2 * 48 * 48);
});

test('letterbox of a 640×480 frame into 128²', () => {
  assert.deepEqual(letterbox(640, 480), { newW: 128, newH: 96, offX: 0, offY: 16, sx: 0.2, sy: 0.2, size: 128 });
  assert.equal(letterbox(480, 640).offX, 16);
});

test('decodes a known tensor to image pixels', () => {
  const reg = new Float32Array(NUM_ANCHORS * 16);
  const logits = new Float32Array(NUM_ANCHORS).fill(-10);
  // Anchor 600 (8×8 map): its centre in the 128² input.
  const i = 600;
  const ax = ANCHORS[2 * i] * 128, ay = ANCHORS[2 * i + 1] * 128;
  logits[i] = 3; // sigmoid ≈ 0.9526
  reg.set([4, -2, 40, 48, -10, -8, 10, -8, 0, 4, 0, 12, -20, 0, 20, 0], i * 16);
  const lb = letterbox(640, 480);
  const [d] = decode(reg, logits, lb);
  const cx = (ax + 4 - lb.offX) / lb.sx, cy = (ay - 2 - lb.offY) / lb.sy;
  const close = (a, b) => assert.ok(Math.abs(a - b) < 1e-3, `${a} vs ${b}`);
  close(d.box[0], cx - 20 / 0.2);
  close(d.box[1], cy - 24 / 0.2);
  close(d.box[2], cx + 20 / 0.2);
  close(d.box[3], cy + 24 / 0.2);
  close(d.score, 1 / (1 + Math.exp(-3)));
  close(d.keypoints[0][0], (ax - 10) / 0.2);
  close(d.keypoints[0][1], (ay - 8 - 16) / 0.2);
  close(d.keypoints[5][0], (ax + 20) / 0.2);
  assert.equal(decode(reg, new Float32Array(NUM_ANCHORS).fill(-1), lb).length, 0, 'nothing over 0.5');
});

test('weighted NMS merges overlapping boxes by score, keeps separate faces apart', () => {
  const kps = new Array(12).fill(0);
  const out = weightedNms(
    [
      { box: [0, 0, 10, 10], kps, score: 0.9 },
      { box: [2, 0, 12, 10], kps, score: 0.6 },
      { box: [100, 100, 110, 110], kps, score: 0.7 },
    ],
    0.3,
  );
  assert.equal(out.length, 2);
  assert.equal(out[0].score, 0.9);
  assert.ok(Math.abs(out[0].box[0] - (0 * 0.9 + 2 * 0.6) / 1.5) < 1e-9);
  assert.deepEqual(out[1].box, [100, 100, 110, 110]);
});
