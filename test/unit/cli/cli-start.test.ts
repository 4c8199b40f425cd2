// Every `hearth` command pays for what src/cli/main.ts loads before it parses
// the command line. The agent (fastify, SQLite, Serf's supervisor), the
// testbed's controllers, the demo and the doctor are loaded by their own
// verbs only: statically imported, they made `hearth --version` cost a second
// of CPU (bench/cli-start.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The modules a file's static imports reach (relative ones; `import type` and `import(…)` excluded). */
function staticGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\s)([^;]*?)\s*from\s+'(\.[^']+)'|^import\s+'(\.[^']+)'/gms)) {
      const names = m[1];
      // `import { type A, type B } from …` is erased like `import type`.
      if (names !== undefined && /^\{[^}]*\}$/.test(names.trim()) && names.slice(1, -1).split(',').every((n) => n.trim() === '' || /^type\s/.test(n.trim()))) continue;
      const spec = (m[2] ?? m[3]) as string;
      let target = resolve(dirname(file), spec);
      if (!existsSync(target) && target.endsWith('.js')) target = `${target.slice(0, -3)}.ts`;
      visit(target);
    }
  };
  visit(entry);
  return seen;
}

test("the CLI's entry does not load the agent, the testbed's controllers, the demo or the doctor", () => {
  const here = fileURLToPath(import.meta.url);
  const js = resolve(dirname(here), '../../../src/cli/main.js');
  const graph = staticGraph(existsSync(js) ? js : js.replace(/\.js$/, '.ts'));
  const loaded = [...graph].map((f) => f.replace(/\.ts$/, '.js').replace(/^.*\/src\//, ''));
  assert.ok(loaded.includes('cli/slice.js'), `the walk follows imports: ${loaded.join(', ')}`);
  for (const heavy of ['agent/run.js', 'agent/agent.js', 'api/app.js', 'testbed/controller.js', 'testbed/controller-ops.js', 'testbed/controller-down.js', 'testbed/state.js', 'cli/demo.js', 'agent/doctor.js']) {
    assert.ok(!loaded.includes(heavy), `${heavy} is loaded by every hearth command`);
  }
});
