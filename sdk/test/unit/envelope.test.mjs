// The envelope built with Node's WebCrypto, opened here by an independent JWE decryption
// (RFC 7516/7518 steps written out); the Python test opens it with the server's opener.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALG, CTY, ENC, base64, base64url, clockOffset, importPublicKey, newNonce, seal } from '../../src/envelope.js';

const subtle = globalThis.crypto.subtle;
const fromB64url = (s) => new Uint8Array(Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));

async function keyPair() {
  const kp = await subtle.generateKey({ name: 'RSA-OAEP', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['encrypt', 'decrypt']);
  const jwk = await subtle.exportKey('jwk', kp.publicKey);
  const kid = base64url(new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })))));
  return { kid, jwk: { kty: 'RSA', n: jwk.n, e: jwk.e, kid }, privateKey: kp.privateKey };
}

async function open(token, privateKey) {
  const [h, ek, iv, ct, tag] = token.split('.');
  const header = JSON.parse(Buffer.from(fromB64url(h)).toString());
  const cek = new Uint8Array(await subtle.decrypt({ name: 'RSA-OAEP' }, privateKey, fromB64url(ek)));
  assert.equal(cek.length, 64);
  const aad = new TextEncoder().encode(h);
  const al = Buffer.alloc(8);
  al.writeBigUInt64BE(BigInt(aad.length * 8));
  const mac = await subtle.importKey('raw', cek.slice(0, 32), { name: 'HMAC', hash: 'SHA-512' }, false, ['sign']);
  const full = new Uint8Array(await subtle.sign('HMAC', mac, Buffer.concat([aad, fromB64url(iv), fromB64url(ct), al])));
  assert.deepEqual(full.slice(0, 32), fromB64url(tag), 'authentication tag');
  const aes = await subtle.importKey('raw', cek.slice(32), { name: 'AES-CBC' }, false, ['decrypt']);
  const pt = await subtle.decrypt({ name: 'AES-CBC', iv: fromB64url(iv) }, aes, fromB64url(ct));
  return { header, payload: JSON.parse(Buffer.from(pt).toString()) };
}

test('seal → independent JWE open gives back the payload and the documented header', async () => {
  const k = await keyPair();
  const pub = await importPublicKey({ kid: k.kid, jwk: k.jwk });
  const payload = { v: 1, nonce: newNonce(), ts: 1750000000000, frames: [{ jpeg: base64(new Uint8Array([255, 216, 255, 217])), t: 0, role: 'main' }], options: {}, challenge: { id: 'c', light_start_t: 900 } };
  const token = await seal(payload, pub);
  assert.equal(token.split('.').length, 5);
  const { header, payload: back } = await open(token, k.privateKey);
  assert.deepEqual(header, { alg: ALG, enc: ENC, kid: k.kid, cty: CTY });
  assert.deepEqual(back, payload);
  assert.equal(back.frames[0].jpeg, '/9j/2Q==');
});

test('a key whose kid is not its thumbprint is refused', async () => {
  const k = await keyPair();
  await assert.rejects(importPublicKey({ kid: 'x' + k.kid.slice(1), jwk: k.jwk }), /thumbprint/);
});

test('nonces are fresh base64url of 16 bytes; clock offset is the midpoint rule', () => {
  const a = newNonce(), b = newNonce();
  assert.match(a, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(a, b);
  assert.equal(clockOffset(10_000, 1_000, 1_200), 8_900);
});
