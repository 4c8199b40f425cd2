// Where each gateway stands in the community graph: this gateway in the
// centre, every other at a distance proportional to its RTT (unknown RTTs on
// the outer ring), at an angle fixed by its name, so a gateway never jumps
// around as others come and go.

export interface Placed<T> {
  node: T;
  x: number;
  y: number;
}

/** FNV-1a of the name, as a fraction of a turn. */
export function angleOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h / 2 ** 32) * 2 * Math.PI;
}

export function layOut<T extends { name: string; self: boolean; rttMs: number | null }>(
  nodes: readonly T[], radius: number,
): Placed<T>[] {
  const known = nodes.filter((n) => !n.self && n.rttMs !== null).map((n) => n.rttMs ?? 0);
  const farthest = Math.max(1, ...known);
  // Known RTTs fill up to 80 % of the radius; the outer ring is for the unknown.
  const inner = radius * 0.8;
  return nodes.map((node) => {
    if (node.self) return { node, x: 0, y: 0 };
    const r = node.rttMs === null ? radius : Math.max(radius * 0.15, (node.rttMs / farthest) * inner);
    const a = angleOf(node.name);
    return { node, x: r * Math.cos(a), y: r * Math.sin(a) };
  });
}
