// The gateway's bandwidth shaper as data: each running sliver's share of the
// bandwidth the owner gives, the tc commands that make the shaper from
// nothing, and the reading of its counters. Pure.
//
// Each direction has one IFB device with one htb tree: a root class at the
// owner's rate, one class per sliver at its share and borrowing up to the
// owner's rate, and a default class for frames no sliver's MAC claims
// (broadcasts, a sliver that changed its MAC). Every veth of a sliver (the
// gateway-bridge one and the slice-network one) redirects what it receives
// (the sliver's upload) to the `up` IFB and what it sends (the sliver's
// download) to the `down` IFB; there a u32 filter picks the class by source
// or destination MAC. The kernel here has no policer, skbedit or flower, so
// the MAC is the one thing left to tell slivers apart after a redirect.
// Must never: give a class a rate of 0 (htb refuses it), or shape a device
// that is not a sliver's veth or this gateway's IFB.

/** The smallest rate a class gets, kbit/s: htb needs one, and a sliver squeezed out must still trickle. */
export const MIN_KBIT = 8;
/** The htb classid minor of the default class. */
const DEFAULT_MINOR = 'ffff';
/** Equal quanta: what is idle is lent in equal parts to the classes that want more. */
const QUANTUM = 1514;

export type Direction = 'up' | 'down';
export const DIRECTIONS: readonly Direction[] = ['up', 'down'];

export interface ShapedSliver {
  id: string;
  /** The rates it is guaranteed, Mbit/s; 0 for a fair share. */
  upMbit: number;
  downMbit: number;
  /** The MACs its frames carry (eth0's, and eth1's on a slice network), lower-case aa:bb:…. */
  macs: readonly string[];
  /** The host ends of its veths that exist now. */
  veths: readonly string[];
}

export interface ShaperInput {
  /** What the owner gives each way, Mbit/s; undefined leaves that direction unshaped. */
  upMbit?: number;
  downMbit?: number;
  slivers: readonly ShapedSliver[];
}

/** The IFB device of each direction. */
export type ShaperDevices = Readonly<Record<Direction, string>>;

export interface ShaperClass {
  sliverId: string;
  direction: Direction;
  /** The IFB device it is on. */
  dev: string;
  classid: string;
  rateKbit: number;
}

export interface ShaperPlan {
  /** The IFB devices that must exist (the other of the two must not). */
  ifbs: string[];
  /** Veths that get a clsact qdisc redirecting to the IFBs. */
  veths: string[];
  classes: ShaperClass[];
  /** `tc -batch` lines that build the shaper on devices cleared of hearth's qdiscs. */
  batch: string[];
}

/**
 * Shares of `capMbit` in kbit/s for slivers asking `asked` Mbit/s each (0:
 * a fair share). A guarantee is given in full while the guarantees fit in
 * the cap, and scaled down alike when they do not (the owner lowered the
 * cap after admitting them); what they leave is split evenly among those
 * that asked nothing. Never below MIN_KBIT.
 */
export function shareRates(capMbit: number, asked: readonly number[]): number[] {
  const capKbit = Math.floor(capMbit * 1000);
  const guaranteed = asked.reduce((sum, a) => sum + Math.max(0, a) * 1000, 0);
  const scale = guaranteed > capKbit ? capKbit / guaranteed : 1;
  const fair = asked.filter((a) => !(a > 0)).length;
  const fairKbit = fair === 0 ? 0 : Math.floor(Math.max(0, capKbit - guaranteed * scale) / fair);
  return asked.map((a) => Math.max(MIN_KBIT, a > 0 ? Math.floor(a * 1000 * scale) : fairKbit));
}

const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/** The shaper for `input`, on IFB devices `devices`. Slivers are ordered by id, so one input always gives one plan. */
export function planShaper(input: ShaperInput, devices: ShaperDevices): ShaperPlan {
  const slivers = [...input.slivers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const plan: ShaperPlan = { ifbs: [], veths: [], classes: [], batch: [] };
  const caps: Partial<Record<Direction, number>> = {};
  if (input.upMbit !== undefined) caps.up = input.upMbit;
  if (input.downMbit !== undefined) caps.down = input.downMbit;
  for (const direction of DIRECTIONS) {
    const capMbit = caps[direction];
    if (capMbit === undefined) continue;
    const dev = devices[direction];
    const cap = Math.max(MIN_KBIT, Math.floor(capMbit * 1000));
    const rates = shareRates(capMbit, slivers.map((s) => (direction === 'up' ? s.upMbit : s.downMbit)));
    plan.ifbs.push(dev);
    plan.batch.push(
      `qdisc add dev ${dev} root handle 1: htb default ${DEFAULT_MINOR}`,
      `class add dev ${dev} parent 1: classid 1:1 htb rate ${cap}kbit ceil ${cap}kbit`,
      `class add dev ${dev} parent 1:1 classid 1:${DEFAULT_MINOR} htb rate ${MIN_KBIT}kbit ceil ${cap}kbit quantum ${QUANTUM}`,
    );
    slivers.forEach((s, i) => {
      const classid = `1:${(i + 2).toString(16)}`;
      const rateKbit = Math.min(rates[i] ?? MIN_KBIT, cap);
      plan.classes.push({ sliverId: s.id, direction, dev, classid, rateKbit });
      plan.batch.push(`class add dev ${dev} parent 1:1 classid ${classid} htb rate ${rateKbit}kbit ceil ${cap}kbit quantum ${QUANTUM}`);
      for (const mac of s.macs) {
        if (!MAC_RE.test(mac)) continue;
        plan.batch.push(`filter add dev ${dev} parent 1: protocol all prio 1 u32 match ether ${direction === 'up' ? 'src' : 'dst'} ${mac} flowid ${classid}`);
      }
    });
  }
  if (plan.ifbs.length === 0) return plan;
  for (const s of slivers) {
    for (const veth of s.veths) {
      plan.veths.push(veth);
      plan.batch.push(`qdisc add dev ${veth} clsact`);
      for (const direction of DIRECTIONS) {
        if (caps[direction] === undefined) continue;
        const hook = direction === 'up' ? 'ingress' : 'egress';
        plan.batch.push(`filter add dev ${veth} ${hook} protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev ${devices[direction]}`);
      }
    }
  }
  return plan;
}

/** One class's counters as `tc -s class show` prints them. */
export interface ClassCounters {
  bytes: number;
  drops: number;
}

/**
 * The counters of every htb class in `tc -s class show dev X` output, by
 * classid (iproute2 6.1 prints no JSON for classes). Lines it does not
 * know are skipped.
 */
export function parseClassStats(text: string): Map<string, ClassCounters> {
  const counters = new Map<string, ClassCounters>();
  const re = /^class htb (\S+) [^\n]*\n\s*Sent (\d+) bytes \d+ pkt \(dropped (\d+)/gm;
  for (const m of text.matchAll(re)) counters.set(m[1] as string, { bytes: Number(m[2]), drops: Number(m[3]) });
  return counters;
}
