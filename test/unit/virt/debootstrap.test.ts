// Reading debootstrap's output: stages, throttled reports, the reason it
// gave up, and what a killed one left mounted.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INITIAL_PROGRESS, PROGRESS_INTERVAL_MS, debootstrapFailure, mountsUnder, progressStep, type ProgressReport, type ProgressState } from '../../../src/virt/debootstrap.js';

function feed(lines: [string, number][]): { state: ProgressState; reports: ProgressReport[] } {
  let state = INITIAL_PROGRESS;
  const reports: ProgressReport[] = [];
  for (const [line, now] of lines) {
    const step = progressStep(state, line, now);
    state = step.state;
    if (step.report) reports.push(step.report);
  }
  return { state, reports };
}

test('a stage change is reported at once; within a stage at most once an interval', () => {
  const { reports } = feed([
    ['I: Retrieving InRelease ', 0],
    ['I: Retrieving Packages ', 10],
    ['I: Retrieving libacl1 2.3.1-3', 100],
    ['I: Validating libacl1 2.3.1-3', 110],
    ['I: Retrieving adduser 3.134', 200],
    ['I: Retrieving apt 2.6.1', 100 + PROGRESS_INTERVAL_MS],
    ['I: Extracting base-files...', 100 + PROGRESS_INTERVAL_MS + 1],
    ['I: Extracting dash...', 100 + PROGRESS_INTERVAL_MS + 2],
    ['I: Installing core packages...', 100 + PROGRESS_INTERVAL_MS + 3],
    ['I: Unpacking sed...', 100 + PROGRESS_INTERVAL_MS + 4],
    ['I: Configuring libc-bin...', 100 + PROGRESS_INTERVAL_MS + 5],
    ['I: Base system installed successfully.', 100 + PROGRESS_INTERVAL_MS + 6],
  ]);
  assert.deepEqual(reports.map((r) => r.stage), ['retrieving', 'retrieving', 'extracting', 'installing', 'configuring', 'finishing']);
  assert.equal(reports[0]?.message, 'debootstrap: retrieving (1) libacl1');
  assert.equal(reports[1]?.message, 'debootstrap: retrieving (3) apt', 'validating a package does not count it twice');
});

test('a failure names the stage and what debootstrap said, with the package', () => {
  const { state } = feed([
    ['I: Retrieving Packages ', 0],
    ['I: Retrieving libacl1 2.3.1-3', 1],
    ['E: Couldn\'t find these debs: hearth-no-such-package', 2],
  ]);
  assert.equal(debootstrapFailure(state, 1, 'tail'), 'debootstrap failed while retrieving: Couldn\'t find these debs: hearth-no-such-package');
  assert.equal(debootstrapFailure(INITIAL_PROGRESS, 1, ''), 'debootstrap failed while resolving: exit 1');
});

test('mounts left under a build directory are found deepest first, and only those', () => {
  const info = [
    '22 1 8:1 / / rw - ext4 /dev/vda rw',
    '90 22 0:5 / /var/lib/hearth/images/.build-1-ab/x/rootfs/proc rw - proc proc rw',
    '91 90 0:6 / /var/lib/hearth/images/.build-1-ab/x/rootfs/proc/sys/fs/binfmt_misc rw - binfmt_misc b rw',
    '92 22 0:7 / /var/lib/hearth/images/.build-1-ab\\040two/rootfs/sys rw - sysfs s rw',
    '93 22 0:8 / /var/lib/hearth/images/.build-1-abc rw - tmpfs t rw',
  ].join('\n');
  assert.deepEqual(mountsUnder(info, '/var/lib/hearth/images/.build-1-ab'), [
    '/var/lib/hearth/images/.build-1-ab/x/rootfs/proc/sys/fs/binfmt_misc',
    '/var/lib/hearth/images/.build-1-ab/x/rootfs/proc',
  ]);
  assert.deepEqual(mountsUnder(info, '/var/lib/hearth/images/.build-1-ab two'), ['/var/lib/hearth/images/.build-1-ab two/rootfs/sys']);
});
