// Benchmark of the WireGuard tunnel layer (src/net/wg/): two namespaces
// joined by a veth, each running wireguard-go through the tunnel module, as
// in test/integration/net/wireguard.test.ts. Measures, over the tunnel and
// over the bare veth, interleaved run by run:
//  - round-trip time: `ping -i 0.01` (avg and mdev of each run, median over runs);
//  - TCP throughput: a Node sender in one namespace writes 64 KiB chunks for
//    a fixed time to a Node receiver in the other, which counts the bytes
//    from the first to the last (median over runs);
// and prints the tunnel/veth ratios.
// Run as root after `npm run build`:
//   node dist/bench/wireguard.js [--runs 5] [--seconds 5] [--pings 200]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeyPair, writeKeyFile } from '../src/net/wg/keys.js';
import { createWgTunnel } from '../src/net/wg/tunnel.js';
import { inNamespace, interfaceConfig, peerOf, wgPair, type WgGateway } from '../test/support/wg-pair.js';
import { measure } from '../test/support/tcp-rate.js';
import { machineLine, median } from './lib.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    pings: { type: 'string', default: '200' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const pings = Number(values.pings);
const PORT = 5201;

/** Mbit/s from `from` to `address` (in `to`), counted by the receiver. */
async function throughput(from: WgGateway, to: WgGateway, address: string): Promise<number> {
  return (await measure(from.namespace, to.namespace, address, PORT, seconds)).mbit;
}

/** avg and mdev in ms of `pings` echo requests 10 ms apart. */
async function rtt(from: WgGateway, address: string): Promise<{ avg: number; mdev: number }> {
  const out = (await inNamespace(from.namespace, ['ping', '-n', '-q', '-i', '0.01', '-W', '1', '-c', String(pings), address], true)).stdout;
  const m = /= [\d.]+\/([\d.]+)\/[\d.]+\/([\d.]+) ms/.exec(out);
  if (m === null) throw new Error(`no rtt line in: ${out}`);
  return { avg: Number(m[1]), mdev: Number(m[2]) };
}

const pair = wgPair('wgb');
const [gw1, gw2] = pair.gateways;
const dir = await mkdtemp(join(tmpdir(), 'hearth-bench-wg-'));
const tunnels = pair.gateways.map((g) => createWgTunnel({ name: g.name, namespace: g.namespace }));
try {
  console.log(await machineLine());
  await pair.create();
  const keys = [generateKeyPair(), generateKeyPair()] as const;
  for (const [i, g] of pair.gateways.entries()) {
    const keyFile = join(dir, `${g.name}.key`);
    await writeKeyFile(keyFile, keys[i]?.privateKey ?? '');
    await tunnels[i]?.up(interfaceConfig(g, keyFile));
  }
  await tunnels[0]?.setPeers([peerOf(gw2, keys[1])]);
  await tunnels[1]?.setPeers([peerOf(gw1, keys[0])]);
  await rtt(gw1, gw2.tunnel4);

  const paths = { veth: gw2.underlay, tunnel: gw2.tunnel4 } as const;
  const samples = { veth: { rtt: [] as number[], mdev: [] as number[], mbps: [] as number[] }, tunnel: { rtt: [] as number[], mdev: [] as number[], mbps: [] as number[] } };
  for (let run = 1; run <= runs; run++) {
    for (const path of ['veth', 'tunnel'] as const) {
      const r = await rtt(gw1, paths[path]);
      const mbps = await throughput(gw1, gw2, paths[path]);
      samples[path].rtt.push(r.avg);
      samples[path].mdev.push(r.mdev);
      samples[path].mbps.push(mbps);
      console.log(`run ${run} ${path.padEnd(6)} rtt ${r.avg.toFixed(3)} ms (mdev ${r.mdev.toFixed(3)}), ${mbps.toFixed(0)} Mbit/s`);
    }
  }
  const figure = (path: 'veth' | 'tunnel'): { rtt: number; mdev: number; mbps: number } => ({
    rtt: median(samples[path].rtt),
    mdev: median(samples[path].mdev),
    mbps: median(samples[path].mbps),
  });
  const veth = figure('veth');
  const tunnel = figure('tunnel');
  console.log(`\nmedian of ${runs} runs (${pings} pings, ${seconds} s of TCP each):`);
  console.log(`  veth:   rtt ${veth.rtt.toFixed(3)} ms (mdev ${veth.mdev.toFixed(3)}), ${veth.mbps.toFixed(0)} Mbit/s`);
  console.log(`  tunnel: rtt ${tunnel.rtt.toFixed(3)} ms (mdev ${tunnel.mdev.toFixed(3)}), ${tunnel.mbps.toFixed(0)} Mbit/s`);
  console.log(`  ratios tunnel/veth: rtt ${(tunnel.rtt / veth.rtt).toFixed(2)}, throughput ${(tunnel.mbps / veth.mbps).toFixed(2)}`);
} finally {
  for (const t of tunnels) await t.down().catch((error: unknown) => console.error(`down: ${String(error)}`));
  await pair.remove();
  await rm(dir, { recursive: true, force: true });
}
