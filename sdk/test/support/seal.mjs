// Seals a payload with the SDK's own envelope module (Node's WebCrypto), for the Python
// test that opens it with the server's opener (tests/test_sdk_envelope.py).
// stdin: {"pub": {"kid", "jwk"}, "payload": {...}}   stdout: the JWE compact token
import { importPublicKey, seal } from '../../src/envelope.js';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { pub, payload } = JSON.parse(input);
const key = await importPublicKey(pub);
process.stdout.write(await seal(payload, key));
