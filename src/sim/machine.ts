// The one-machine model (opt-in, `hearth sim --machine-cores`): every
// gateway of the community runs on one machine of a few cores, as in
// bench/scale.ts (100 agents and their Serfs on one 2-core box), not on a
// home box of its own. It exists to predict that bench, not a community.
// What it adds: a pull of a changed list is not free; it takes `pullCpuMs`
// of CPU (both sides: measured by bench/pull-cost.ts with the real peer
// server and client, a new TLS connection per pull) from the cores the
// idle gateways leave free, shared by every pull under way.
// Processor sharing, not FIFO: each pull is a client process and the host's
// server, and the kernel time-slices the runnable processes, so every pull
// under way advances at once (at most one core each: a pull's two sides take
// turns). The time until the last of a burst of pulls is done is the same
// under any discipline that never idles a core; the discipline only decides
// which pulls finish first.
// Pure. Must never: read a clock or Math.random.

/** The machine every gateway runs on, and what a pull costs on it. */
export interface MachineModel {
  /** Its cores. */
  cores: number;
  /** The share of them (0..1) the idle gateways (agents and Serfs) keep busy; pulls get the rest. */
  busy: number;
  /** CPU time of one pull, server and client (ms). */
  pullCpuMs: number;
  /** How many gateways' lists change at once (the bench's slice of 3 announces a service on each of its 3 hosts). */
  lists: number;
}

/** bench/pull-cost.ts on the bench's machine (2 cores AMD EPYC, Node 20, the agents' flags): a pull on a new TLS connection, both sides. */
export const MEASURED_PULL_CPU_MS = 6.8;
export const BENCH_SLICE_LISTS = 3;

/** The cores pulls can use: what the idle gateways leave. */
export function freeCores(m: MachineModel): number {
  return m.cores * (1 - m.busy);
}

/**
 * When each job is done, for jobs of `workMs` of CPU each arriving at
 * `arrivals` (ms), on `cores` shared equally by the jobs under way, each
 * job at most one core. Jobs of equal work finish in arrival order (the
 * earliest has the least left), so the service every job under way has had
 * since the clock started is tracked once (`served`), not per job. Returned
 * in the order of `arrivals`.
 */
export function processorSharing(arrivals: readonly number[], workMs: number, cores: number): number[] {
  const n = arrivals.length;
  const done = new Array<number>(n).fill(0);
  const order = arrivals.map((_, i) => i).sort((a, b) => (arrivals[a] as number) - (arrivals[b] as number) || a - b);
  /** Jobs under way, in arrival order, with the `served` at which each is done. */
  const under: { job: number; doneAt: number }[] = [];
  let head = 0;
  let next = 0;
  let now = 0;
  let served = 0;
  while (next < n || head < under.length) {
    const arrivalAt = next < n ? arrivals[order[next] as number] as number : Number.POSITIVE_INFINITY;
    const active = under.length - head;
    const rate = active === 0 ? 0 : Math.min(1, cores / active);
    const first = under[head];
    const finishAt = first === undefined ? Number.POSITIVE_INFINITY : now + (first.doneAt - served) / rate;
    if (arrivalAt < finishAt) {
      served += (arrivalAt - now) * rate;
      now = arrivalAt;
      under.push({ job: order[next] as number, doneAt: served + workMs });
      next++;
    } else {
      const job = first as { job: number; doneAt: number };
      served = job.doneAt;
      now = finishAt;
      done[job.job] = now;
      head++;
    }
  }
  return done;
}
