// A gateway as the membership view shows it, for unit tests of the parts
// that read the view (the keeper, the services, the homes): alive at a
// loopback address, with roomy resources and the digests given.
import type { MemberStatus } from '../../src/overlay/serf-records.js';
import type { MemberView } from '../../src/overlay/view.js';

export function memberView(name: string, over: { digests?: Record<string, string>; status?: MemberStatus } = {}): MemberView {
  const roomy = { cpu: 8, memoryMb: 16384, diskMb: 100_000, slivers: 20 };
  return {
    name, serfAddr: '127.0.0.1:7946', status: over.status ?? 'alive', tagError: null, coordinate: null,
    tags: {
      id: 'a'.repeat(64), api: '127.0.0.1:1', mode: 'production', version: '1', digests: over.digests ?? {}, zone: null,
      access: { quota: null, allowlist: false }, contributed: roomy, free: { ...roomy },
    },
  };
}
