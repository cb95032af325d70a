#!/usr/bin/env node
/**
 * Harness BPCER: runs the reactive camera (live footage that follows the challenge) N times
 * and counts the accepted captures, then the plain fake camera once on each webm (both must
 * be refused). One JSON line per run, then a summary line.
 *
 *   node sdk/test/e2e/bench.mjs [--runs 10] [--server URL] [--video FILE]
 *
 * Without --server it starts its own `faceproof serve` (server.mjs: emulated cameras
 * allowed). Runs are sequential; on a busy machine the SDK's frame timing suffers (see the
 * `sdk.timing` diagnostics of each line), so report the load with the numbers.
 */

import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_VIDEO, runScenario } from './harness.mjs';
import { REPO } from './footage.mjs';
import { startServer } from './server.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    server: { type: 'string' },
    video: { type: 'string', default: DEFAULT_VIDEO },
    'no-plain': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const own = values.server ? null : await startServer();
const server = values.server || own.url;
const line = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const brief = (r) => ({
  camera: r.camera, video: r.video, code: r.code, message: r.message, reasons: r.reasons, passive: r.passive_score,
  screen_light: r.challenge?.screen_light?.statistic, planarity: r.challenge?.move_closer?.planarity,
  timing: r.sdk?.timing, analysis_fps: r.sdk?.analysis_fps, elapsed_ms: r.elapsed_ms, error: r.error,
});
try {
  const reactive = [];
  for (let i = 0; i < runs; i++) {
    const r = await runScenario({ server, camera: 'reactive', video: values.video, artifacts: '', seed: 1000 + i });
    reactive.push(r);
    line({ run: i + 1, load: os.loadavg()[0].toFixed(1), ...brief(r) });
  }
  const plain = [];
  if (!values['no-plain']) {
    for (const name of ['apfol__fake2__replay_attack_phone.webm', 'apfol__real2__live.webm']) {
      const video = path.join(REPO, '..', 'shared', 'data', 'video', name);
      const r = await runScenario({ server, camera: 'plain', video, artifacts: '' });
      plain.push(r);
      line({ load: os.loadavg()[0].toFixed(1), ...brief(r) });
    }
  }
  const accepted = reactive.filter((r) => r.code === 200).length;
  const reasons = {};
  for (const r of reactive.filter((x) => x.code !== 200)) {
    for (const k of r.reasons || [r.message || 'error']) reasons[k] = (reasons[k] || 0) + 1;
  }
  line({
    summary: true,
    reactive_runs: runs,
    reactive_accepted: accepted,
    harness_bpcer: runs ? Math.round((1000 * (runs - accepted)) / runs) / 1000 : null,
    refusal_reasons: reasons,
    plain: plain.map((r) => ({ video: r.video, code: r.code, message: r.message, reasons: r.reasons })),
    plain_all_refused: plain.every((r) => r.code !== 200 && !r.error),
    cpus: os.cpus().length,
    load_at_end: os.loadavg().map((x) => x.toFixed(1)),
  });
} finally {
  await own?.stop();
}
