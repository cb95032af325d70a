import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PINNED_MODELS, loadBundle, parseBundle } from '../../src/bundle.js';

/** The FPMB layout of src/faceproof/models/bundle.py, written independently here. */
function build(files, tamper = {}) {
  let offset = 0;
  const entries = files.map((f) => {
    const e = { name: f.name, role: f.role, offset, size: f.data.length, sha256: tamper[f.name] ?? createHash('sha256').update(f.data).digest('hex') };
    offset += f.data.length;
    return e;
  });
  const manifest = Buffer.from(JSON.stringify({ format: 'faceproof-model-bundle', version: 1, files: entries }));
  const head = Buffer.alloc(9);
  head.write('FPMB', 0, 'latin1');
  head.writeUInt8(1, 4);
  head.writeUInt32BE(manifest.length, 5);
  return new Uint8Array(Buffer.concat([head, manifest, ...files.map((f) => Buffer.from(f.data))]));
}

const A = new Uint8Array([1, 2, 3, 4, 5]);
const B = new Uint8Array([9, 8, 7]);
const sha = (d) => createHash('sha256').update(d).digest('hex');
const PINS = { face_detector: { name: 'a.tflite', sha256: sha(A) }, face_mesh: { name: 'b.tflite', sha256: sha(B) } };
const FILES = [{ name: 'a.tflite', role: 'face_detector', data: A }, { name: 'b.tflite', role: 'face_mesh', data: B }];

test('parses the layout and checks every digest', async () => {
  const data = build(FILES);
  const parsed = parseBundle(data);
  assert.equal(parsed.manifest.files.length, 2);
  assert.deepEqual([...parsed.files.get('b.tflite').bytes], [...B]);
  const models = await loadBundle(data.buffer, { pins: PINS });
  assert.deepEqual([...models.face_detector], [...A]);
  assert.deepEqual([...models.face_mesh], [...B]);
});

test('a corrupted file, a lying manifest, a wrong pin or role, truncation are refused (ERROR_MODEL_FAIL, 500)', async () => {
  const data = build(FILES);
  const corrupt = data.slice();
  corrupt[corrupt.length - 1] ^= 0xff;
  for (const [bad, pins] of [
    [corrupt, PINS],
    [build(FILES, { 'a.tflite': sha(B) }), PINS],
    [data, { ...PINS, face_mesh: { name: 'b.tflite', sha256: sha(A) } }],
    [data, { face_detector: PINS.face_mesh }],
    [build(FILES.slice(0, 1)), PINS],
  ]) {
    await assert.rejects(loadBundle(bad, { pins }), (e) => e.code === 500 && e.message === 'ERROR_MODEL_FAIL');
  }
  for (const bad of [data.slice(0, 20), new Uint8Array([0x46, 0x50, 0x4d, 0x41, 1, 0, 0, 0, 2, 123, 125]), data.slice(0, data.length - 1)]) {
    assert.throws(() => parseBundle(bad), (e) => e.code === 500);
  }
});

test("the SDK's pins are the server's pinned models (manifest.json)", () => {
  const manifest = JSON.parse(readFileSync(new URL('../../../src/faceproof/models/manifest.json', import.meta.url), 'utf8'));
  for (const pin of Object.values(PINNED_MODELS)) {
    const m = manifest.models.find((x) => x.name === pin.name);
    assert.ok(m, pin.name);
    assert.equal(m.sha256, pin.sha256);
  }
});
