// What reading one Serf member list costs an agent in CPU: the framing of
// its 4 KiB chunks (serf-frame.ts), the decoding of the msgpack, and the
// parsing into members (serf-records.ts), with the agent's decoder
// (serf-decode.ts) and with @msgpack/msgpack's general one (strings as
// bytes, as the client decoded them until session 24), in node with the
// flags bench/scale.ts gives its agents (`--lite-mode`: every line of
// JavaScript interpreted) and with node's defaults. At 100 gateways every
// agent reads such a list every 30 s, a record at every member's news, and
// an event at every change: this is the bulk of what Serf costs it.
// The list is what a Serf 0.8 agent sends for `members` (the keys, types and
// order of hashicorp/serf's client.Member, bin for the address), each
// member with the tags a hearth gateway gossips (overlay/tags.ts).
// Run after `npm run build`:
//   node dist/bench/serf-decode.js [--members 100] [--lists 300] [--json]

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Decoder, encode } from '@msgpack/msgpack';
import { createMsgpackFramer } from '../src/overlay/serf-frame.js';
import { decodeSerfFrame } from '../src/overlay/serf-decode.js';
import { parseMembers } from '../src/overlay/serf-records.js';
import { encodeTags } from '../src/overlay/tags.js';
import { SCALE_AGENT_FLAGS } from './agent-flags.js';

const CHUNK = 4096;
const WARMUP = 20;
const DECODERS = ['@msgpack/msgpack (strings as bytes)', 'serf-decode'] as const;
type DecoderName = (typeof DECODERS)[number];

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '100' },
    lists: { type: 'string', default: '300' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const members = Number(values.members);
const lists = Number(values.lists);

function memberList(n: number): Uint8Array {
  const member = (i: number): Record<string, unknown> => ({
    Name: `sc-gw${String(i).padStart(3, '0')}`,
    Addr: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]),
    Port: 20_000 + i,
    Tags: encodeTags({
      id: i.toString(16).padStart(64, 'a'),
      api: `127.0.0.1:${30_000 + i}`,
      contributed: { cpu: 2, memoryMb: 2048, diskMb: 10_240, slivers: 8 },
      free: { cpu: 1.5, memoryMb: 1536, diskMb: 8192, slivers: 6 },
      mode: 'production',
      version: '0.1.0',
      digests: { sv: 'AbCdEfGhIjK', sl: 'LmNoPqRsTuV', rv: 'WxYz0123456' },
      zone: null,
      access: { quota: null, allowlist: false },
    }),
    Status: 'alive',
    ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2,
    DelegateMin: 2, DelegateMax: 5, DelegateCur: 5,
  });
  return encode({ Members: Array.from({ length: n }, (_, i) => member(i)) });
}

function decoderOf(which: DecoderName): (frame: Uint8Array) => unknown {
  if (which === 'serf-decode') return decodeSerfFrame;
  const reference = new Decoder({ rawStrings: true });
  return (frame) => reference.decode(frame);
}

/** CPU milliseconds per list to frame, decode and parse `bytes` arriving in 4 KiB chunks. */
function measure(which: DecoderName, bytes: Uint8Array): number {
  const decode = decoderOf(which);
  const framer = createMsgpackFramer();
  const once = (): void => {
    for (let at = 0; at < bytes.length; at += CHUNK) {
      for (const frame of framer.push(bytes.subarray(at, at + CHUNK))) {
        if (parseMembers(decode(frame))?.length !== members) throw new Error(`${which}: the list did not parse`);
      }
    }
  };
  for (let i = 0; i < WARMUP; i++) once();
  const from = process.cpuUsage();
  for (let i = 0; i < lists; i++) once();
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000 / lists;
}

if (values.child !== undefined) {
  process.stdout.write(JSON.stringify(measure(values.child as DecoderName, memberList(members))));
} else {
  const { machineLine } = await import('./lib.js');
  const bytes = memberList(members).length;
  const self = fileURLToPath(import.meta.url);
  const results: { flags: string; decoder: DecoderName; msPerList: number }[] = [];
  for (const flags of [SCALE_AGENT_FLAGS, []]) {
    for (const decoder of DECODERS) {
      // A fresh process for each, so one's compiled code and garbage do not help or burden the other.
      const out = execFileSync(process.execPath, [...flags, self, '--members', String(members), '--lists', String(lists), '--child', decoder], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      results.push({ flags: flags.join(' ') || '(none)', decoder, msPerList: Number(JSON.parse(out)) });
    }
  }
  if (values.json) {
    console.log(JSON.stringify({ machine: await machineLine(), members, bytes, lists, results }, null, 2));
  } else {
    console.log(`a list of ${members} members, ${bytes} bytes in ${CHUNK}-byte chunks, framed, decoded and parsed ${lists} times`);
    for (const flags of new Set(results.map((r) => r.flags))) {
      const [general, ours] = DECODERS.map((d) => results.find((r) => r.flags === flags && r.decoder === d)?.msPerList ?? NaN) as [number, number];
      console.log(`  node ${flags}: @msgpack/msgpack ${general.toFixed(2)} ms, serf-decode ${ours.toFixed(2)} ms per list (${(general / ours).toFixed(1)}x)`);
    }
  }
}
