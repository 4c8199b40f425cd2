// One sample of a gateway's own use, as agent/samples.ts takes it and
// GET /api/v1/node/samples serves it to the portal's charts. Types only.

export interface Sample {
  at: string;
  /** Fraction (0..1) of all the box's cores busy since the sample before. */
  cpuBusy: number;
  memoryUsedMb: number;
  diskUsedMb: number;
  /** What this gateway's slivers (and leases) hold of its contribution. */
  reserved: { cpu: number; memoryMb: number; diskMb: number; slivers: number };
  /** Slivers running. */
  running: number;
}

export interface SampleList {
  /** How far apart the samples are. */
  intervalSec: number;
  /** Oldest first. */
  items: Sample[];
}
