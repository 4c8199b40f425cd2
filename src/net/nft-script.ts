// Pieces of the nftables scripts hearth renders (ruleset.ts, slice-firewall.ts). Pure.

/** A named set; `declaration` is its `type …` or `typeof …` line. */
export function nftSet(name: string, declaration: string, elements: readonly string[]): string {
  // nft rejects an empty element list, so an empty set is declared without one.
  const body = elements.length === 0 ? '' : `\n    elements = { ${elements.join(',\n                 ')} }`;
  return `  set ${name} {\n    ${declaration};${body}\n  }`;
}

/** A chain with its hook line and rules. */
export function nftChain(name: string, hook: string, rules: readonly string[]): string {
  return [`  chain ${name} {`, `    ${hook}`, ...rules.map((r) => `    ${r}`), '  }'].join('\n');
}

/** A quoted name (interfaces, comments). */
export function nftQuote(name: string): string {
  return `"${name}"`;
}

/**
 * The lines that empty tables `name` of these families in the script's
 * transaction: each is created first, which makes its delete valid on a host
 * that has none yet; the script then declares them anew.
 */
export function nftReplaceTables(name: string, families: readonly string[]): string[] {
  return families.flatMap((family) => [`table ${family} ${name}`, `delete table ${family} ${name}`]);
}
