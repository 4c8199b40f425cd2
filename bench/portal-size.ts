// The portal's size (issue 10 goal: the JavaScript the first page loads,
// gzip, at most 100 KB). Builds nothing: reads the last `npm run build`'s
// dist/portal, follows the entry of index.html and its static imports through
// Vite's manifest (dynamic imports load later, so they do not count), and
// prints raw and gzip sizes (zlib's default level, what a server compressing
// on the fly sends) of that JavaScript and CSS, and of all the JavaScript.

import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

interface ManifestChunk {
  file: string;
  isEntry?: boolean;
  imports?: string[];
  css?: string[];
}

const here = fileURLToPath(import.meta.url);
const PORTAL = fileURLToPath(new URL(here.endsWith('.ts') ? '../dist/portal/' : '../portal/', import.meta.url));
const GOAL_KB = 100;

interface Size {
  raw: number;
  gzip: number;
}

async function sizeOf(files: Iterable<string>): Promise<Size> {
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const bytes = await readFile(join(PORTAL, f));
    raw += bytes.length;
    gzip += gzipSync(bytes).length;
  }
  return { raw, gzip };
}

/** The files index.html's entry loads before the page runs: its chunk, static imports and their CSS. */
function firstPageFiles(manifest: Record<string, ManifestChunk>): { js: Set<string>; css: Set<string> } {
  const js = new Set<string>();
  const css = new Set<string>();
  const visit = (key: string): void => {
    const chunk = manifest[key];
    if (chunk === undefined || js.has(chunk.file)) return;
    js.add(chunk.file);
    for (const c of chunk.css ?? []) css.add(c);
    for (const i of chunk.imports ?? []) visit(i);
  };
  const entries = Object.entries(manifest).filter(([, c]) => c.isEntry === true);
  if (entries.length === 0) throw new Error(`no entry in ${PORTAL}.vite/manifest.json`);
  for (const [key] of entries) visit(key);
  return { js, css };
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  let manifest: Record<string, ManifestChunk>;
  try {
    manifest = JSON.parse(await readFile(join(PORTAL, '.vite', 'manifest.json'), 'utf8')) as Record<string, ManifestChunk>;
  } catch (err) {
    throw new Error(`cannot read the portal's build in ${PORTAL} (run npm run build first): ${(err as Error).message}`);
  }
  const first = firstPageFiles(manifest);
  const allJs = (await readdir(join(PORTAL, 'assets'))).filter((f) => f.endsWith('.js')).map((f) => `assets/${f}`);
  const js = await sizeOf(first.js);
  const css = await sizeOf(first.css);
  const all = await sizeOf(allJs);
  console.log(`first page JavaScript (${first.js.size} file${first.js.size === 1 ? '' : 's'}): ${kb(js.gzip)} gzip, ${kb(js.raw)} raw; goal ≤ ${GOAL_KB} KB gzip: ${js.gzip <= GOAL_KB * 1024 ? 'met' : 'NOT met'}`);
  console.log(`first page CSS (${first.css.size} file${first.css.size === 1 ? '' : 's'}): ${kb(css.gzip)} gzip, ${kb(css.raw)} raw`);
  console.log(`all JavaScript (${allJs.length} file${allJs.length === 1 ? '' : 's'}): ${kb(all.gzip)} gzip, ${kb(all.raw)} raw`);
}

await main();
