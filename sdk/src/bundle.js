/**
 * The FPMB model bundle from `/api/v1/models` (src/faceproof/models/bundle.py):
 * `"FPMB"`, u8 version, u32 manifest length (big-endian), manifest JSON, file bytes.
 * Every file is SHA-256-checked with WebCrypto against the manifest AND against the digest
 * this SDK version pins for its role, so a swapped model is refused even with a matching
 * manifest.
 * @module bundle
 */
import { FaceSDKError } from './errors.js';

/** The pinned models the SDK runs (same files and digests as the server's manifest.json). */
export const PINNED_MODELS = Object.freeze({
  face_detector: {
    name: 'face_detection_short_range.tflite',
    sha256: '3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633',
  },
  face_mesh: {
    name: 'face_landmark.tflite',
    sha256: '2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493',
  },
});

const MAGIC = [0x46, 0x50, 0x4d, 0x42]; // "FPMB"

/**
 * @typedef {{name: string, role: string, offset: number, size: number, sha256: string}} BundleEntry
 * @typedef {{manifest: {format: string, version: number, files: BundleEntry[]}, files: Map<string, {entry: BundleEntry, bytes: Uint8Array}>}} ParsedBundle
 */

/** @param {string} detail */
const bad = (detail) => new FaceSDKError('ERROR_MODEL_FAIL', { detail });

/**
 * Structure only (no digests): header, manifest, every file inside the body.
 * @param {ArrayBuffer | Uint8Array} data
 * @returns {ParsedBundle}
 */
export function parseBundle(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < 9 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('not a faceproof model bundle');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(4);
  const mlen = view.getUint32(5, false);
  if (version !== 1 || 9 + mlen > bytes.length) throw bad('unsupported or truncated bundle');
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(9, 9 + mlen)));
  } catch {
    throw bad('bundle manifest is not JSON');
  }
  if (!manifest || manifest.format !== 'faceproof-model-bundle' || !Array.isArray(manifest.files)) {
    throw bad('bundle manifest has the wrong format');
  }
  const body = bytes.subarray(9 + mlen);
  const files = new Map();
  for (const e of manifest.files) {
    if (
      typeof e?.name !== 'string' || typeof e.role !== 'string' || typeof e.sha256 !== 'string' ||
      !Number.isInteger(e.offset) || !Number.isInteger(e.size) || e.offset < 0 || e.size < 0 ||
      e.offset + e.size > body.length
    ) {
      throw bad(`bundle entry ${JSON.stringify(e?.name)} is out of range`);
    }
    files.set(e.name, { entry: e, bytes: body.subarray(e.offset, e.offset + e.size) });
  }
  return { manifest, files };
}

/** @param {ArrayBuffer} buf */
function hex(buf) {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Parses and checks the bundle; returns the model bytes by role.
 * @param {ArrayBuffer | Uint8Array} data
 * @param {{subtle?: SubtleCrypto, pins?: Record<string, {name: string, sha256: string}>}} [opts]
 * @returns {Promise<Record<string, Uint8Array>>} role → bytes, for every pinned role
 */
export async function loadBundle(data, opts = {}) {
  const subtle = opts.subtle ?? globalThis.crypto?.subtle;
  if (!subtle) throw new FaceSDKError('ERROR_BROWSER_FEATURE_NOT_SUPPORTED');
  const pins = opts.pins ?? PINNED_MODELS;
  const { files } = parseBundle(data);
  /** @type {Record<string, Uint8Array>} */
  const out = {};
  for (const [role, pin] of Object.entries(pins)) {
    const f = files.get(pin.name);
    if (!f) throw bad(`bundle lacks ${pin.name}`);
    if (f.entry.role !== role) throw bad(`${pin.name} has role ${f.entry.role}, expected ${role}`);
    // Copy to an ArrayBuffer of its own: digest() and the runtime both want plain buffers.
    const own = f.bytes.slice();
    const digest = hex(await subtle.digest('SHA-256', own));
    if (digest !== f.entry.sha256.toLowerCase()) throw bad(`${pin.name}: digest does not match the manifest`);
    if (digest !== pin.sha256) throw bad(`${pin.name}: digest does not match the pinned model`);
    out[role] = own;
  }
  return out;
}
