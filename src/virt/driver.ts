// The container driver contract. The agent's reconciler speaks only this
// interface; `lxc.ts` implements it with the lxc-* tools and `memory.ts`
// in memory, for pure tests and gateways without containers. One contract suite
// (test/contract/driver.contract.ts) runs against every implementation.
// Must never: touch a container it did not create.

import type { Readable, Writable } from 'node:stream';
import type { TemplateName } from '../model/sliver.js';

export interface ContainerLimits {
  /** CPU in cores (fractions allowed); enforced as a CFS quota. */
  cpu: number;
  /** Hard memory limit (RAM + swap), enforced by the memory cgroup. */
  memoryMb: number;
  /** Maximum number of tasks, enforced by the pids cgroup. */
  pids: number;
  /** Disk budget: the size of the container's own filesystem (LXC: a loop-mounted ext4 image, disk.ts). */
  diskMb: number;
}

export interface ContainerNetwork {
  /** Host bridge the sliver's veth joins. */
  bridge: string;
  /** Host-side veth name (at most 15 characters). */
  hostVeth: string;
  /** Sliver address in CIDR form, e.g. 10.213.0.5/24. */
  address: string;
  /** Default route inside the sliver (the bridge address). */
  gateway: string;
  /** The sliver's eth0 MAC (aa:bb:…); the kernel picks one at random when left out. */
  mac?: string;
}

export interface ContainerSpec {
  /** Container name: [a-z0-9-], unique on the machine (cgroup names are global). */
  name: string;
  template: TemplateName;
  /**
   * Debian packages beyond the template's base (debian only, else
   * `invalid_packages`): the container is a snapshot of the image of that
   * set, built first when the machine does not have it. Absent or empty: the base image.
   */
  packages?: readonly string[];
  limits: ContainerLimits;
  network?: ContainerNetwork;
}

/** `incomplete` is a container whose creation did not finish (a crash mid-create). */
export type ContainerState = 'absent' | 'incomplete' | 'stopped' | 'running';

export interface ContainerStats {
  cpuNs: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  pids: number;
  rxBytes: number;
  txBytes: number;
  /** Bytes in use on the container's filesystem, running or not (as `df` inside shows it). */
  diskBytes: number;
  /** That filesystem's size as `df` shows it: diskMb MiB less the filesystem's own metadata, at most diskMb MiB. */
  diskLimitBytes: number;
}

export interface ExecOptions {
  /** Run under a pseudo-terminal. */
  tty?: boolean;
  /** Bytes fed to the command's standard input, then closed. */
  stdin?: Buffer | string;
  env?: Record<string, string>;
  /** Bytes kept of stdout and of stderr each; the rest is dropped and `truncated` set. */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  truncated: boolean;
}

/** A running interactive command (a console): raw streams and its exit. */
export interface ExecSession {
  stdin: Writable;
  stdout: Readable;
  /** Separate only without a TTY; with a TTY, everything comes on stdout. */
  stderr: Readable;
  exited: Promise<number>;
  /** Resize the terminal (TTY sessions only). */
  resize(cols: number, rows: number): void;
  kill(): void;
}

export interface OpOptions {
  signal?: AbortSignal;
}

export interface Driver {
  /** Create (idempotent): complete → no-op; incomplete → destroyed and made again. */
  create(spec: ContainerSpec, opts?: OpOptions): Promise<void>;
  /** Start and wait until running (idempotent). */
  start(name: string, opts?: OpOptions): Promise<void>;
  /** Stop (idempotent); after `timeoutSec` of a clean shutdown, kill. */
  stop(name: string, opts?: OpOptions & { timeoutSec?: number }): Promise<void>;
  /** Stop if needed and remove everything of the container (idempotent: absent → ok). */
  destroy(name: string, opts?: OpOptions): Promise<void>;
  state(name: string, opts?: OpOptions): Promise<ContainerState>;
  stats(name: string, opts?: OpOptions): Promise<ContainerStats>;
  /** The containers this driver created, in any state. */
  list(opts?: OpOptions): Promise<{ name: string; state: ContainerState }[]>;
  exec(name: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * The running container's network namespace, as a path others can enter
   * (`/proc/<init pid>/ns/net`); null when it is not running or has none of
   * its own. It changes with every start.
   */
  netns(name: string, opts?: OpOptions): Promise<string | null>;
  /** An interactive command whose streams the caller wires (console, `sliver exec -t`). */
  session(name: string, argv: readonly string[], opts?: { tty?: boolean; cols?: number; rows?: number; env?: Record<string, string> }): ExecSession;
}
