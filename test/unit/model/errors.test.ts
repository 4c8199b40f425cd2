// The error catalog and docs/errors.md say the same thing: every code, its
// status and its title, and nothing else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CATALOG, HearthError, isErrorCode } from '../../../src/model/errors.js';

function docsRows(): Map<string, { status: number; title: string }> {
  // Works from src (tsx) and from dist/: the docs sit at the repository root.
  const here = fileURLToPath(import.meta.url);
  const root = here.includes('/dist/') ? here.slice(0, here.indexOf('/dist/')) : here.slice(0, here.indexOf('/test/'));
  const text = readFileSync(`${root}/docs/errors.md`, 'utf8');
  const rows = new Map<string, { status: number; title: string }>();
  for (const m of text.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| ([^|]+) \|/gm)) {
    rows.set(m[1] as string, { status: Number(m[2]), title: (m[3] as string).trim() });
  }
  return rows;
}

test('docs/errors.md lists exactly the catalog, with the same status and title', () => {
  const rows = docsRows();
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_CATALOG).sort());
  for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
    assert.deepEqual(rows.get(code), { status: entry.status, title: entry.title }, code);
  }
});

test('every code maps to a 4xx or 5xx status, and a problem carries it', () => {
  for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
    assert.ok(entry.status >= 400 && entry.status < 600, code);
    assert.ok(isErrorCode(code));
    const p = new HearthError(code as keyof typeof ERROR_CATALOG, 'detail', { extra: 1 }).toProblem('/x');
    assert.equal(p.code, code);
    assert.equal(p.status, entry.status);
    assert.equal(p['extra'], 1);
  }
  assert.equal(isErrorCode('no_such_code'), false);
  assert.equal(isErrorCode('toString'), false);
});
