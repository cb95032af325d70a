/**
 * Test footage for the e2e cameras, prepared once per video and cached:
 * - reactive camera: JPEG frames (ffmpeg) and the face box and head pose of every frame,
 *   computed by the server's own models (video_faces.py, run with faceproof's Python);
 * - plain camera: a .y4m file Chromium's fake camera can play.
 * Cache: $FACEPROOF_E2E_CACHE or <tmpdir>/faceproof-e2e/<sha256 of the video, 16 hex>/.
 * @module e2e/footage
 */

import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..', '..');
export const WIDTH = 640;
export const HEIGHT = 480;
export const FPS = 30;

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} exit ${r.status}): ${(r.stderr || '').trim().slice(-800)}`);
  return r.stdout;
}

/** faceproof's Python: $FACEPROOF_PYTHON, the repo's .venv, or python3 on PATH. */
export function python() {
  if (process.env.FACEPROOF_PYTHON) return process.env.FACEPROOF_PYTHON;
  const venv = path.join(REPO, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

function cacheDir(video) {
  const digest = createHash('sha256').update(fs.readFileSync(video)).digest('hex').slice(0, 16);
  const root = process.env.FACEPROOF_E2E_CACHE || path.join(os.tmpdir(), 'faceproof-e2e');
  const dir = path.join(root, digest);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes to a temp name then renames, so a concurrent or interrupted run never sees half a file. */
function atomically(target, make) {
  if (fs.existsSync(target)) return target;
  const tmp = `${target}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  make(tmp);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  return target;
}

/**
 * Frames (640×480 JPEG, 30 fps) and per-frame face boxes of a video.
 * @param {string} video
 * @returns {{dir: string, frames: {file: string, box: number[]|null, pose: number[]|null}[], width: number, height: number, fps: number}}
 */
export function reactiveFootage(video) {
  const dir = cacheDir(video);
  const framesDir = atomically(path.join(dir, 'frames'), (tmp) => {
    fs.mkdirSync(tmp);
    run('ffmpeg', ['-loglevel', 'error', '-nostdin', '-y', '-i', video,
      '-vf', `fps=${FPS},scale=${WIDTH}:${HEIGHT}:force_original_aspect_ratio=increase,crop=${WIDTH}:${HEIGHT}`,
      '-q:v', '3', path.join(tmp, '%05d.jpg')], 'frame extraction');
  });
  const facesJson = atomically(path.join(dir, 'faces-v2.json'), (tmp) => {
    run(python(), [path.join(HERE, 'video_faces.py'), framesDir, tmp, '--fps', String(FPS)], 'face pre-pass');
  });
  const faces = JSON.parse(fs.readFileSync(facesJson, 'utf8'));
  const withFace = faces.frames.filter((f) => f.box).length;
  if (withFace < 10) throw new Error(`${video}: a face was found in only ${withFace} frames; the reactive camera needs a face`);
  return { dir: framesDir, ...faces };
}

/**
 * A .y4m copy of the video for Chromium's fake camera (`--use-file-for-fake-video-capture`),
 * 640×480 at 30 fps, in a temp dir the caller removes.
 *
 * With `fit` (the default for the plain camera), the recording is first scaled and cropped
 * the way an attacker would prepare it: the median face box lands in the middle of the SDK's
 * default oval (sdk/src/quality.js), so the main frame is taken and the server judges the
 * challenge. Without it the raw framing is played (a face outside the default oval never
 * gets past the first step: 501).
 * @param {string} video
 * @param {string} tmpDir
 * @param {{frames: {box: number[]|null}[]} | null} [fit] the video's face boxes (reactiveFootage)
 * @param {{cx: number, cy: number, h: number}} [oval] where to put the face (frame-relative)
 */
export function y4m(video, tmpDir, fit = null, oval = { cx: 0.5, cy: 0.5, h: 0.6 * 0.725 }) {
  const out = path.join(tmpDir, `${path.basename(video).replace(/\.[^.]+$/, '')}.y4m`);
  let vf = `fps=${FPS},scale=${WIDTH}:${HEIGHT}:force_original_aspect_ratio=increase,crop=${WIDTH}:${HEIGHT}`;
  if (fit) {
    const boxes = fit.frames.map((f) => f.box).filter(Boolean);
    const median = (k) => boxes.map((b) => k(b)).sort((a, b) => a - b)[Math.floor(boxes.length / 2)];
    const cx = median((b) => (b[0] + b[2]) / 2);
    const cy = median((b) => (b[1] + b[3]) / 2);
    const bh = median((b) => b[3] - b[1]);
    const tx = oval.cx * WIDTH;
    const ty = oval.cy * HEIGHT;
    // Large enough for the face to reach the target size and for the crop to centre it.
    const k = Math.max(oval.h * HEIGHT / bh, tx / cx, (WIDTH - tx) / (WIDTH - cx), ty / cy, (HEIGHT - ty) / (HEIGHT - cy), 1);
    const sw = Math.ceil(WIDTH * k / 2) * 2;
    const sh = Math.ceil(HEIGHT * k / 2) * 2;
    const x = Math.round(Math.min(Math.max(cx * k - tx, 0), sw - WIDTH));
    const y = Math.round(Math.min(Math.max(cy * k - ty, 0), sh - HEIGHT));
    vf += `,scale=${sw}:${sh},crop=${WIDTH}:${HEIGHT}:${x}:${y}`;
  }
  run('ffmpeg', ['-loglevel', 'error', '-nostdin', '-y', '-i', video, '-vf', vf,
    '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', out], 'y4m conversion');
  return out;
}

/**
 * The approach in the footage: the pair of frontal moments (head within ±12° of facing the
 * camera, at most `maxSpan` frames apart) with the largest face-size ratio. `far` is the
 * small-face moment, `near` the large one; playing from `far` to `near` (forwards or
 * backwards through the clip) is moving closer.
 * @param {{box: number[]|null, pose?: number[]|null}[]} frames
 */
export function approach(frames, maxSpan = 150, maxAngle = 12) {
  const hgt = smoothHeights(frames);
  const frontal = frames.map((f, i) => {
    for (let k = Math.max(0, i - 3); k <= Math.min(frames.length - 1, i + 3); k++) {
      const p = frames[k].pose;
      if (!p || Math.abs(p[0]) > maxAngle || Math.abs(p[1]) > maxAngle) return false;
    }
    return hgt[i] != null;
  });
  let best = { far: 0, near: 0, ratio: 0 };
  for (let i = 0; i < hgt.length; i++) {
    if (!frontal[i]) continue;
    for (let j = Math.max(0, i - maxSpan); j < Math.min(hgt.length, i + maxSpan); j++) {
      if (!frontal[j]) continue;
      const ratio = hgt[j] / hgt[i];
      if (ratio > best.ratio) best = { far: i, near: j, ratio };
    }
  }
  if (best.ratio === 0) throw new Error('the footage has no frontal face moment for the reactive camera');
  return { ...best, ratio: Math.round(best.ratio * 1000) / 1000 };
}

/** Face heights averaged over ±4 frames (null where no face). */
export function smoothHeights(frames) {
  const raw = frames.map((f) => (f.box ? f.box[3] - f.box[1] : null));
  return raw.map((v, i) => {
    if (v == null) return null;
    let s = 0; let n = 0;
    for (let k = Math.max(0, i - 4); k <= Math.min(raw.length - 1, i + 4); k++) {
      if (raw[k] != null) { s += raw[k]; n++; }
    }
    return s / n;
  });
}
