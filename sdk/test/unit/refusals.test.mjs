// The server's 429/503 refusals (docs/sdk.md "Busy and rate-limited servers"): coded errors
// with retryAfter, one retry of a short 503 on retry-safe calls, never on the others.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RETRY_AFTER_S, post, retryAfterSeconds } from '../../src/endpoints.js';
import { ERROR_CODES, FaceSDKError } from '../../src/errors.js';
import { resolveLocalization } from '../../src/localization.js';

/** A fetch that answers from `answers` in turn and records each call. */
function scripted(...answers) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, init });
    const a = answers[Math.min(calls.length - 1, answers.length - 1)];
    return new Response(a.body === undefined ? '' : JSON.stringify(a.body), { status: a.status, headers: a.headers ?? {} });
  };
  return { calls, fetchImpl };
}

const body = (code, message) => ({ code, message, refid: 'r1', description: 'retry later' });

test('Retry-After: delta-seconds and HTTP date; garbage is undefined', () => {
  assert.equal(retryAfterSeconds('30'), 30);
  assert.equal(retryAfterSeconds(' 0 '), 0);
  const now = Date.parse('2026-12-01T21:00:00Z');
  assert.equal(retryAfterSeconds('Tue, 01 Dec 2026 21:01:30 GMT', now), 90);
  assert.equal(retryAfterSeconds('Tue, 01 Dec 2026 20:00:00 GMT', now), 0);
  assert.equal(retryAfterSeconds(null), undefined);
  assert.equal(retryAfterSeconds('soon'), undefined);
  assert.equal(retryAfterSeconds('-5'), undefined);
});

test('429 on /challenge is a coded error with retryAfter, never retried', async () => {
  const { calls, fetchImpl } = scripted({ status: 429, headers: { 'Retry-After': '2' }, body: body(429, 'ERROR_TOO_MANY_REQUESTS') });
  const err = await post('https://s/api/v1/challenge', [], { fetchImpl, retry: true }).catch((e) => e);
  assert.ok(err instanceof FaceSDKError);
  assert.equal(err.message, 'ERROR_TOO_MANY_REQUESTS');
  assert.equal(err.code, 500);
  assert.equal(err.retryAfter, 2);
  assert.equal(err.getLocalizedString(), 'Too many requests, please try again later (2 s)');
  assert.equal(calls.length, 1);
  assert.deepEqual(JSON.parse(JSON.stringify(err)).retryAfter, 2);
});

test('429 after too many failed attempts keeps the server name; the wait reads in minutes', async () => {
  const { calls, fetchImpl } = scripted({ status: 429, headers: { 'Retry-After': '900' }, body: body(429, 'ERROR_TOO_MANY_ATTEMPTS') });
  const err = await post('https://s/api/v1/challenge', [], { fetchImpl, retry: true }).catch((e) => e);
  assert.equal(err.message, 'ERROR_TOO_MANY_ATTEMPTS');
  assert.equal(err.retryAfter, 900);
  assert.equal(err.getLocalizedString(), 'Too many attempts, please try again later (15 min)');
  assert.equal(calls.length, 1);
});

test('a 429 without our body (a proxy) is the rate limit', async () => {
  const { fetchImpl } = scripted({ status: 429, headers: { 'Retry-After': '1' } });
  const err = await post('u', [], { fetchImpl }).catch((e) => e);
  assert.equal(err.message, 'ERROR_TOO_MANY_REQUESTS');
  assert.equal(err.retryAfter, 1);
});

test('503 busy with a short Retry-After, then 200: one retry after the delay', async () => {
  const { calls, fetchImpl } = scripted(
    { status: 503, headers: { 'Retry-After': '1' }, body: body(500, 'ERROR_SERVER_BUSY') },
    { status: 200, body: { challenge: { id: 'c', nonce: 'n' } } },
  );
  const started = performance.now();
  const res = await post('https://s/api/v1/challenge', [['requestID', 'x']], { fetchImpl, retry: true });
  assert.equal(res.status, 200);
  assert.equal(calls.length, 2);
  assert.ok(performance.now() - started >= 950, 'the retry waits for Retry-After');
  assert.deepEqual(calls[1].init.headers, [['requestID', 'x']]);
});

test('503 twice: one retry only, then ERROR_SERVER_BUSY with retryAfter', async () => {
  const { calls, fetchImpl } = scripted({ status: 503, headers: { 'Retry-After': '0' }, body: body(500, 'ERROR_SERVER_BUSY') });
  const err = await post('u', [], { fetchImpl, retry: true }).catch((e) => e);
  assert.equal(calls.length, 2);
  assert.equal(err.message, 'ERROR_SERVER_BUSY');
  assert.equal(err.code, ERROR_CODES.ERROR_SERVER_BUSY);
  assert.equal(err.retryAfter, 0);
});

test('503 with a long or missing Retry-After is not retried', async () => {
  for (const headers of [{ 'Retry-After': String(MAX_RETRY_AFTER_S + 1) }, {}]) {
    const { calls, fetchImpl } = scripted({ status: 503, headers, body: body(500, 'ERROR_SERVER_BUSY') });
    const err = await post('u', [], { fetchImpl, retry: true }).catch((e) => e);
    assert.equal(calls.length, 1);
    assert.equal(err.message, 'ERROR_SERVER_BUSY');
    assert.equal(err.retryAfter, headers['Retry-After'] === undefined ? undefined : MAX_RETRY_AFTER_S + 1);
  }
  const none = new FaceSDKError('ERROR_SERVER_BUSY');
  assert.equal(none.getLocalizedString(), 'The server is busy, please try again later');
});

test('a call without `retry` (anything single-use, e.g. a capture upload) is never re-sent', async () => {
  const { calls, fetchImpl } = scripted(
    { status: 503, headers: { 'Retry-After': '0' }, body: body(500, 'ERROR_SERVER_BUSY') },
    { status: 200, body: {} },
  );
  const err = await post('https://s/api/v1/process', [], { fetchImpl }).catch((e) => e);
  assert.equal(calls.length, 1);
  assert.equal(err.message, 'ERROR_SERVER_BUSY');
  assert.equal(err.retryAfter, 0);
});

test('integrator localization places the wait with {retryAfter}', () => {
  const strings = resolveLocalization({ ERROR_SERVER_BUSY: 'Serveur occupé, réessayez dans {retryAfter}' });
  assert.equal(new FaceSDKError('ERROR_SERVER_BUSY', { strings, retryAfter: 4 }).getLocalizedString(), 'Serveur occupé, réessayez dans 4 s');
  assert.equal(new FaceSDKError('ERROR_TOO_MANY_ATTEMPTS', { retryAfter: 7200 }).getLocalizedString(), 'Too many attempts, please try again later (2 h)');
});
