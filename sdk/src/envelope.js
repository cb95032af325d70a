/**
 * The capture envelope (docs/envelope.md): JWE compact serialization, RSA-OAEP-256 key
 * wrap, A256CBC-HS512 content encryption, built with WebCrypto only (browser or Node ≥ 20).
 * @module envelope
 */

export const ALG = 'RSA-OAEP-256';
export const ENC = 'A256CBC-HS512';
export const CTY = 'application/vnd.faceproof.capture+json';
const enc = new TextEncoder();

/** @param {Uint8Array} bytes */
export function base64url(bytes) {
  return base64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Standard base64 with padding (frames' `jpeg`). @param {Uint8Array} bytes */
export function base64(bytes) {
  const NodeBuffer = /** @type {any} */ (globalThis).Buffer;
  if (NodeBuffer && typeof window === 'undefined') {
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  }
  let s = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    s += String.fromCharCode.apply(null, /** @type {any} */ (bytes.subarray(i, i + CHUNK)));
  }
  return btoa(s);
}

/** A fresh single-use nonce: 16 random bytes, base64url (22 chars). */
export function newNonce(cryptoImpl = globalThis.crypto) {
  return base64url(cryptoImpl.getRandomValues(new Uint8Array(16)));
}

/**
 * Imports the `/api/v1/pub_key` answer for sealing; checks that `kid` is the RFC 7638
 * thumbprint of the key, so a swapped `jwk` under a known `kid` is refused.
 * @param {{kid: string, jwk: JsonWebKey}} pub
 * @param {Crypto} [cryptoImpl]
 * @returns {Promise<{kid: string, key: CryptoKey}>}
 */
export async function importPublicKey(pub, cryptoImpl = globalThis.crypto) {
  if (!pub || typeof pub.kid !== 'string' || !pub.jwk || pub.jwk.kty !== 'RSA') {
    throw new Error('public key answer lacks kid/jwk');
  }
  const thumb = base64url(
    new Uint8Array(
      await cryptoImpl.subtle.digest('SHA-256', enc.encode(JSON.stringify({ e: pub.jwk.e, kty: 'RSA', n: pub.jwk.n }))),
    ),
  );
  if (thumb !== pub.kid) throw new Error('public key kid does not match its thumbprint');
  const jwk = { kty: 'RSA', n: pub.jwk.n, e: pub.jwk.e, alg: ALG, ext: true };
  const key = await cryptoImpl.subtle.importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  return { kid: pub.kid, key };
}

/**
 * Seals a payload object (docs/envelope.md §2) for the imported key.
 * @param {Record<string, unknown>} payload
 * @param {{kid: string, key: CryptoKey}} pub
 * @param {Crypto} [cryptoImpl]
 * @returns {Promise<string>} `header.encrypted_key.iv.ciphertext.tag`
 */
export async function seal(payload, pub, cryptoImpl = globalThis.crypto) {
  const subtle = cryptoImpl.subtle;
  const header = base64url(enc.encode(JSON.stringify({ alg: ALG, enc: ENC, kid: pub.kid, cty: CTY })));
  const cek = cryptoImpl.getRandomValues(new Uint8Array(64));
  const iv = cryptoImpl.getRandomValues(new Uint8Array(16));
  const macKey = await subtle.importKey('raw', cek.slice(0, 32), { name: 'HMAC', hash: 'SHA-512' }, false, ['sign']);
  const aesKey = await subtle.importKey('raw', cek.slice(32), { name: 'AES-CBC' }, false, ['encrypt']);
  const plaintext = enc.encode(JSON.stringify(payload));
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: 'AES-CBC', iv }, aesKey, plaintext));
  const aad = enc.encode(header);
  const al = new Uint8Array(8);
  new DataView(al.buffer).setBigUint64(0, BigInt(aad.length * 8), false);
  const macInput = new Uint8Array(aad.length + iv.length + ciphertext.length + 8);
  macInput.set(aad, 0);
  macInput.set(iv, aad.length);
  macInput.set(ciphertext, aad.length + iv.length);
  macInput.set(al, aad.length + iv.length + ciphertext.length);
  const tag = new Uint8Array(await subtle.sign('HMAC', macKey, macInput)).slice(0, 32);
  const wrapped = new Uint8Array(await subtle.encrypt({ name: 'RSA-OAEP' }, pub.key, cek));
  cek.fill(0);
  return [header, base64url(wrapped), base64url(iv), base64url(ciphertext), base64url(tag)].join('.');
}

/**
 * Clock offset from one `/api/v1/time` exchange (docs/envelope.md §4).
 * @param {number} serverEpochMs @param {number} sentMs @param {number} receivedMs
 */
export function clockOffset(serverEpochMs, sentMs, receivedMs) {
  return Math.round(serverEpochMs - (sentMs + receivedMs) / 2);
}
