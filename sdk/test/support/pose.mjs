// Head pose and eye openness from meshes with the SDK's quality module, for the Python test
// that compares them with the server's (tests/test_sdk_quality.py).
// stdin: {"meshes": [[468*3 numbers], ...]}   stdout: [{yaw, pitch, roll, ear, grade}, ...]
import { eyesOpenness, headPose } from '../../src/quality.js';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).meshes.map((m) => {
  const mesh = Float32Array.from(m);
  const eyes = eyesOpenness(mesh);
  return { ...headPose(mesh), ear: eyes.ear, grade: eyes.grade };
});
process.stdout.write(JSON.stringify(out));
