#!/usr/bin/env node
/**
 * faceproof end-to-end harness: the demo app in Debian's Chromium (playwright-core), with a
 * camera of your choice, against a running server. Prints ONE JSON line: the server's answer
 * (code, message, liveness decision, reasons and challenge checks), the screenshots taken and
 * their pixel standard deviation.
 *
 *   node sdk/test/e2e.mjs --server http://127.0.0.1:8080 --video FILE --camera reactive|plain
 *   node sdk/test/e2e.mjs --server URL --camera deny                      # → 104
 *   node sdk/test/e2e.mjs --server URL --scenario close                   # → 202
 *   node sdk/test/e2e.mjs --server URL --camera default --capture-timeout 4   # → 501
 *   node sdk/test/e2e.mjs --server URL --scenario match --image A.jpg --image B.jpg
 *
 * Options: --scenario capture|close|match|pictureid|verify|liveness|docs (default capture),
 * --camera reactive|plain|default|deny|none (default reactive; none for the photo
 * scenarios), --video FILE (default the live webm), --capture-timeout S (default 45),
 * --image FILE (repeatable), --artifacts DIR (default
 * var/test-artifacts; "" for none), --name PREFIX, --seed N, --gain G, --noise SIGMA,
 * --viewport WxH, --set name=value (a demo setting, repeatable), --no-fit (plain camera: play
 * the recording with its own framing instead of fitting its face into the default oval).
 * The server must allow the emulated camera (FACEPROOF_ALLOW_EMULATED_CAMERA=true) for the
 * reactive/plain cameras to be judged on the challenge rather than refused as emulated.
 * Exit status: 0 when the harness ran (whatever the server decided), 1 on a harness failure.
 */

import { parseArgs } from 'node:util';
import { runScenario } from './e2e/harness.mjs';

const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    video: { type: 'string' },
    camera: { type: 'string' },
    scenario: { type: 'string', default: 'capture' },
    'capture-timeout': { type: 'string' },
    image: { type: 'string', multiple: true, default: [] },
    artifacts: { type: 'string' },
    name: { type: 'string' },
    seed: { type: 'string' },
    gain: { type: 'string' },
    noise: { type: 'string' },
    viewport: { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    'no-fit': { type: 'boolean', default: false },
  },
});
if (!values.server) {
  console.error('usage: node sdk/test/e2e.mjs --server URL [--video FILE] [--camera reactive|plain|default|deny] [--scenario capture|close|match|verify|liveness]');
  process.exit(2);
}
const num = (v) => (v === undefined ? undefined : Number(v));
const opts = {
  server: values.server,
  camera: values.camera ?? (['match', 'pictureid', 'liveness', 'docs'].includes(values.scenario) ? 'none' : 'reactive'), scenario: values.scenario, images: values.image,
  settings: Object.fromEntries(values.set.map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')])),
};
if (values.video) opts.video = values.video;
if (values['no-fit']) opts.fit = false;
if (values['capture-timeout']) opts.captureTimeout = num(values['capture-timeout']);
if (values.artifacts !== undefined) opts.artifacts = values.artifacts;
if (values.name) opts.name = values.name;
if (values.seed) opts.seed = num(values.seed);
if (values.gain) opts.gain = num(values.gain);
if (values.noise) opts.noise = num(values.noise);
if (values.viewport) {
  const [width, height] = values.viewport.split('x').map(Number);
  opts.viewport = { width, height };
}
const result = await runScenario(opts);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.error ? 1 : 0);
