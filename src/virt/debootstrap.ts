// Runs debootstrap for the debian template and turns its chatter into
// progress: `progressStep` (pure) reads one line at a time and says when to
// report, so a build that takes minutes shows it is moving without flooding
// the log (a stage change always, within a stage at most every few seconds).
// Must never: take a package name that was not checked (model/image.ts), or
// leave a debootstrap running after its caller aborted.

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { HearthError } from '../model/errors.js';
import { toolEnv } from './runner.js';

export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

export type BuildStage = 'resolving' | 'retrieving' | 'extracting' | 'installing' | 'configuring' | 'finishing';

export interface ProgressState {
  stage: BuildStage;
  /** Packages seen in the current stage (debootstrap names one a line). */
  count: number;
  /** When the last report went out (ms, the caller's clock). */
  reportedAt: number;
  /** The last `E:` lines, which say why debootstrap gave up. */
  errors: string[];
}

export interface ProgressReport {
  stage: BuildStage;
  message: string;
}

export const INITIAL_PROGRESS: ProgressState = { stage: 'resolving', count: 0, reportedAt: Number.NEGATIVE_INFINITY, errors: [] };
/** Within a stage, at most one report this often. */
export const PROGRESS_INTERVAL_MS = 3000;

const STAGE_OF: [RegExp, BuildStage][] = [
  [/^I: (?:Retrieving|Validating) (?!InRelease|Release|Packages)(\S+)/, 'retrieving'],
  [/^I: Extracting (\S+?)\.*$/, 'extracting'],
  [/^I: (?:Installing|Unpacking) (.+?)\.*$/, 'installing'],
  [/^I: Configuring (\S+?)\.*$/, 'configuring'],
];

/** One line of debootstrap's output in; the new state and, when it is time, a report out. */
export function progressStep(state: ProgressState, line: string, nowMs: number): { state: ProgressState; report?: ProgressReport } {
  const text = line.trim();
  if (text.startsWith('E: ')) return { state: { ...state, errors: [...state.errors, text.slice(3)].slice(-3) } };
  for (const [re, stage] of STAGE_OF) {
    const m = re.exec(text);
    if (m === null) continue;
    const what = m[1] ?? '';
    const changed = stage !== state.stage;
    const count = changed ? 1 : state.count + (stage === 'retrieving' && text.startsWith('I: Validating') ? 0 : 1);
    const next: ProgressState = { ...state, stage, count };
    if (!changed && nowMs - state.reportedAt < PROGRESS_INTERVAL_MS) return { state: next };
    return { state: { ...next, reportedAt: nowMs }, report: { stage, message: `debootstrap: ${stage} (${count}) ${what}` } };
  }
  if (/^I: Base system installed successfully/.test(text)) {
    return { state: { ...state, stage: 'finishing', reportedAt: nowMs }, report: { stage: 'finishing', message: 'debootstrap: base system installed' } };
  }
  return { state };
}

/** What a failed debootstrap said, in one sentence that names the stage (and the package, when debootstrap does). */
export function debootstrapFailure(state: ProgressState, exitCode: number, tailText: string): string {
  const why = state.errors.length > 0 ? state.errors.join('; ') : tailText || `exit ${exitCode}`;
  return `debootstrap failed while ${state.stage}: ${why}`;
}

export interface DebootstrapInit {
  suite: string;
  target: string;
  /** Extra packages (already checked); debootstrap resolves their dependencies. */
  include: readonly string[];
  mirror?: string;
  /**
   * Where downloaded packages are kept for the next build (debootstrap
   * --cache-dir, with a partial/ so a download lands by rename and a
   * cached file is checked against the archive's checksum before use).
   */
  cacheDir?: string;
  onProgress?: (report: ProgressReport) => void;
  signal?: AbortSignal;
  now?: () => number;
}

/** `debootstrap --variant=minbase`; rejects with `image_build_failed` naming the stage and debootstrap's own reason. */
export function runDebootstrap(init: DebootstrapInit): Promise<void> {
  const { signal } = init;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const now = init.now ?? ((): number => performance.now());
  const args = [
    '--variant=minbase', ...(init.include.length > 0 ? [`--include=${init.include.join(',')}`] : []),
    ...(init.cacheDir === undefined ? [] : [`--cache-dir=${init.cacheDir}`]),
    init.suite, init.target, init.mirror ?? DEFAULT_DEBIAN_MIRROR,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('debootstrap', args, { stdio: ['ignore', 'pipe', 'pipe'], env: toolEnv() });
    let state = INITIAL_PROGRESS;
    const recent: string[] = [];
    const onLine = (line: string): void => {
      recent.push(line);
      if (recent.length > 4) recent.shift();
      const step = progressStep(state, line, now());
      state = step.state;
      if (step.report !== undefined) init.onProgress?.(step.report);
    };
    if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
    if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);
    // SIGTERM, not SIGKILL: debootstrap's trap unmounts what it mounted in the target.
    const onAbort = (): void => void child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new HearthError('image_build_failed', `debootstrap could not be run: ${e.message} (is the debootstrap package installed?)`, { stage: state.stage }, { cause: e }));
    });
    child.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signal.reason);
      if (code === 0) return resolve();
      reject(new HearthError('image_build_failed', debootstrapFailure(state, code ?? -1, recent.join(' | ')), { stage: state.stage, exitCode: code }));
    });
  });
}

/** Mount points strictly under `path`, deepest first, from mountinfo text (field 5, octal escapes undone). Pure. */
export function mountsUnder(mountinfo: string, path: string): string[] {
  const prefix = path.endsWith('/') ? path : `${path}/`;
  return mountinfo.split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/** Lazily unmounts whatever is mounted under `path` (debootstrap killed mid-install leaves proc and sys there). */
export async function unmountUnder(path: string): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  for (const mount of mountsUnder(info, path)) {
    await new Promise<void>((resolve) => {
      const child = spawn('umount', ['-l', mount], { stdio: 'ignore', env: toolEnv() });
      child.on('error', () => resolve());
      child.on('close', () => resolve());
    });
  }
}
