// types/faceproof.d.ts type-checks the reference's integration example (test/types/usage.ts)
// with `tsc --strict` (typescript is a devDependency; the test skips without it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
const project = fileURLToPath(new URL('../types/tsconfig.json', import.meta.url));

test('the d.ts accepts the reference integration example', { skip: !existsSync(tsc) && 'typescript not installed' }, () => {
  const r = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('the sources type-check from their JSDoc (tsc checkJs, sdk/tsconfig.json)', { skip: !existsSync(tsc) && 'typescript not installed' }, () => {
  const r = spawnSync(process.execPath, [tsc, '-p', fileURLToPath(new URL('../../tsconfig.json', import.meta.url))], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
