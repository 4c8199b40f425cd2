// The node flags of the agents in the 100-gateway runs (`bench/scale.ts
// --node-options=…`, the command in BENCHMARKS.md): the benches that measure
// one piece of an agent's work apart run it under the same flags. A module of
// its own, so that their child processes load nothing else of bench/.

/** `--lite-mode` interprets every line of JavaScript; the memory goal at 100 needs it (BENCHMARKS.md). */
export const SCALE_AGENT_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--lite-mode'];
