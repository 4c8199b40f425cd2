// The resource vector: cores, memory, disk and sliver slots, the one shape
// for what a gateway contributes, what its slivers use, what is free, and
// what it gossips in its tags. Pure.
// Must never: carry a resource that is not admitted against (pids are a
// per-sliver limit, not a gateway's offer).

export interface ResourceVector {
  /** Cores, fractions allowed (gossiped to a thousandth). */
  cpu: number;
  memoryMb: number;
  diskMb: number;
  slivers: number;
}
