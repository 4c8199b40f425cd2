// The few facts about a slice's shape that both the slice spec and an app
// recipe (which becomes one) need: how slivers may be spread, and how many
// a slice holds. Apart so that model/app.ts and model/slice.ts, which
// embeds a recipe, do not import each other. Pure.

export type Spread = 'gateways' | 'zones';
export const SPREADS: readonly Spread[] = ['gateways', 'zones'];

export const MAX_SLICE_SLIVERS = 64;

/** The name a slice's sliver has on its host, and on its slice network. */
export function sliverNameOf(slice: string, index: number): string {
  return `${slice}-${index}`;
}
