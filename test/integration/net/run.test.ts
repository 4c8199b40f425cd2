import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { runTool, runToolChecked } from '../../../src/net/run.js';

describe('runTool', () => {
  test('feeds stdin and reports output and exit code without throwing', async () => {
    const r = await runTool('/bin/busybox', ['sh', '-c', 'cat; echo oops >&2; exit 3'], { input: 'script' });
    assert.deepEqual(r, { exitCode: 3, stdout: 'script', stderr: 'oops\n' });
  });

  test('the checked form turns a failure into network_error with the tool’s stderr', async () => {
    await assert.rejects(runToolChecked('/bin/busybox', ['sh', '-c', 'echo no such table >&2; exit 1']), (e: unknown) =>
      e instanceof HearthError && e.code === 'network_error' && e.extra['stderr'] === 'no such table');
  });

  test('a missing tool is network_error', async () => {
    await assert.rejects(runTool('/nonexistent/nft', []), (e: unknown) => e instanceof HearthError && e.code === 'network_error');
  });

  test('aborting kills the tool and rejects with the signal’s reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const running = runTool('/bin/busybox', ['sleep', '30'], { signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(running, (e: unknown) => e === reason);
    await assert.rejects(runTool('/bin/busybox', ['true'], { signal: controller.signal }), (e: unknown) => e === reason);
  });
});
