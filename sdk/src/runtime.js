/**
 * The in-browser model runtime: LiteRT.js (`@litertjs/core`, CPU/wasm) as served by the
 * faceproof server under `/sdk/vendor/` and `/sdk/wasm/` (docs/sdk.md), and the two pinned
 * models from the verified bundle.
 * @module runtime
 */
import { FaceSDKError } from './errors.js';

/** @type {Map<string, Promise<any>>} */
const loaded = new Map();

/**
 * Imports LiteRT.js and loads its wasm once per assets base URL.
 * @param {string} assetsBase URL of the SDK's folder (ends with '/')
 */
export function loadRuntime(assetsBase) {
  let p = loaded.get(assetsBase);
  if (!p) {
    p = (async () => {
      const core = await import(/* @vite-ignore */ /* webpackIgnore: true */ new URL('vendor/litertjs-core.js', assetsBase).href);
      const existing = core.getGlobalLiteRtPromise?.();
      if (existing) await existing;
      else await core.loadLiteRt(new URL('wasm/', assetsBase).href);
      return core;
    })();
    p.catch(() => loaded.delete(assetsBase));
    loaded.set(assetsBase, p);
  }
  return p;
}

/**
 * One compiled model with outputs picked by their element count.
 */
export class Model {
  /**
   * @param {any} core @param {any} compiled
   */
  constructor(core, compiled) {
    this.core = core;
    this.compiled = compiled;
    this.outputs = compiled.getOutputDetails().map((/** @type {any} */ d) => ({
      name: d.name,
      size: [...d.shape].reduce((a, b) => a * b, 1),
      shape: [...d.shape],
    }));
    this.input = compiled.getInputDetails()[0];
  }

  /**
   * @param {any} core @param {Uint8Array} bytes
   */
  static async compile(core, bytes) {
    try {
      return new Model(core, await core.loadAndCompile(bytes, { accelerator: 'wasm' }));
    } catch (cause) {
      throw new FaceSDKError('ERROR_MODEL_FAIL', { cause, detail: 'model did not compile' });
    }
  }

  /**
   * Runs on one float32 input; returns every output as a Float32Array, in output order.
   * @param {Float32Array} data @param {number[]} shape
   * @returns {Promise<Float32Array[]>}
   */
  async run(data, shape) {
    const input = new this.core.Tensor(data, shape);
    /** @type {any[]} */
    let outs = [];
    try {
      outs = await this.compiled.run(input);
      return outs.map((t) => Float32Array.from(t.toTypedArray()));
    } finally {
      input.delete();
      for (const t of outs) t.delete();
    }
  }

  /** Index of the output with this many elements. @param {number} n */
  outputIndex(n) {
    const i = this.outputs.findIndex((o) => o.size === n);
    if (i < 0) throw new FaceSDKError('ERROR_MODEL_FAIL', { detail: `no output of size ${n}` });
    return i;
  }

  delete() {
    this.compiled.delete?.();
  }
}
