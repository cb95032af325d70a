// Decodes raw BlazeFace outputs with the SDK's own decoder (sdk/src/blazeface.js), for the
// Python test that compares it with the server's decoding (tests/test_sdk_blazeface.py).
// stdin: {"width", "height", "cases": [{"regressors": [...896*16], "logits": [...896]}]}
// stdout: [[{box, score, keypoints}], ...]
import { decode, letterbox } from '../../src/blazeface.js';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { cases } = JSON.parse(input);
const out = cases.map((c) =>
  decode(Float32Array.from(c.regressors), Float32Array.from(c.logits), letterbox(c.width, c.height)),
);
process.stdout.write(JSON.stringify(out));
