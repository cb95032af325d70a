/**
 * Starts a throw-away `faceproof serve` for the harness tools (bench.mjs): free port, fresh
 * data dir in tmp, models from FACEPROOF_MODEL_DIR (default var/models), browser origins
 * localhost/127.0.0.1, and FACEPROOF_ALLOW_EMULATED_CAMERA=true so that canvas and file
 * cameras are judged on the challenge (tests and development only).
 * @module e2e/server
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './footage.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** @returns {Promise<{url: string, stop: () => Promise<void>}>} */
export async function startServer() {
  const port = await freePort();
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'faceproof-e2e-server-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FACEPROOF_') || k === 'FACEPROOF_MODEL_DIR'));
  Object.assign(env, {
    FACEPROOF_DATA_DIR: path.join(data, 'data'),
    FACEPROOF_MODEL_DIR: process.env.FACEPROOF_MODEL_DIR || path.join(REPO, 'var', 'models'),
    FACEPROOF_ALLOWED_ORIGINS: 'localhost,127.0.0.1',
    FACEPROOF_ALLOW_EMULATED_CAMERA: 'true',
    FACEPROOF_PORT: String(port),
    FACEPROOF_WORKERS: '1',
  });
  const exe = path.join(REPO, '.venv', 'bin', 'faceproof');
  const log = fs.openSync(path.join(data, 'server.log'), 'w');
  const proc = spawn(fs.existsSync(exe) ? exe : 'faceproof', ['serve'], { env, cwd: data, stdio: ['ignore', log, log] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`faceproof serve exited: ${fs.readFileSync(path.join(data, 'server.log'), 'utf8').slice(-1500)}`);
    try {
      if ((await fetch(`${url}/api/v1/face_health`)).ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error('faceproof serve did not answer within 90 s');
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    url,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      fs.closeSync(log);
      fs.rmSync(data, { recursive: true, force: true });
    },
  };
}
