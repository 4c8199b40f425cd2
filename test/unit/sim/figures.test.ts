// The sweeps' files: CSV that quotes only what it must and keeps every row,
// and hand-written SVG plots whose points land inside the axes, one
// polyline per series, with the labels a reader needs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { linePlot, niceTicks, toCsv } from '../../../src/sim/figures.js';

const numbers = (s: string): number[] => s.trim().split(/[ ,]+/).map(Number);

void describe('figures', () => {
  test('CSV: a header, one line per row, text with a comma or quote quoted, non-finite numbers empty', () => {
    const csv = toCsv(['a', 'b'], [[1, 'x'], [0.25, 'say "hi", then go'], [Number.NaN, '']]);
    assert.equal(csv, 'a,b\n1,x\n0.25,"say ""hi"", then go"\n,\n');
  });

  test('ticks are round numbers from at or below the range to at or above it', () => {
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(1.08, 1.5), [1, 1.1, 1.2, 1.3, 1.4, 1.5]);
    assert.deepEqual(niceTicks(0, 527, 5), [0, 200, 400, 600]);
  });

  test('a plot has its title and labels, a polyline per series, and every point inside the plot area', () => {
    const svg = linePlot({
      title: 'Success <at> utilisation', xLabel: 'utilisation (%)', yLabel: 'placed (%)',
      series: [{ name: 'sampled', points: [[10, 100], [50, 99.5], [90, 97]] }, { name: 'ideal', points: [[10, 100], [90, 99]] }],
    });
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"') && svg.trimEnd().endsWith('</svg>'));
    assert.ok(svg.includes('Success &lt;at&gt; utilisation') && svg.includes('utilisation (%)') && svg.includes('placed (%)'));
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => numbers(m[1] as string));
    assert.equal(lines.length, 2);
    assert.deepEqual(lines.map((l) => l.length / 2), [3, 2]);
    for (const l of lines) {
      for (let i = 0; i < l.length; i += 2) {
        assert.ok((l[i] as number) >= 70 && (l[i] as number) <= 470, `x ${l[i]}`);
        assert.ok((l[i + 1] as number) >= 40 && (l[i + 1] as number) <= 345, `y ${l[i + 1]}`);
      }
    }
    // The higher value is higher on the page (a smaller y), the later x further right.
    const [first] = lines as [number[]];
    assert.ok((first[1] as number) < (first[5] as number) && (first[0] as number) < (first[4] as number));
    assert.ok(svg.includes('>sampled</text>') && svg.includes('>ideal</text>'));
  });

  test('a log axis spaces sizes by their order of magnitude and labels each one plotted', () => {
    const svg = linePlot({ title: 't', xLabel: 'gateways', yLabel: 'calls', xLog: true, series: [{ name: 's', points: [[100, 6], [1000, 6], [20_000, 6]] }] });
    const [xs] = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => numbers(m[1] as string).filter((_, i) => i % 2 === 0));
    assert.ok(xs !== undefined);
    const [a, b, c] = xs as [number, number, number];
    // 100 → 1000 is one decade, 1000 → 20,000 is 1.3 decades.
    assert.ok(Math.abs((c - b) / (b - a) - Math.log10(20)) < 0.01, String(xs));
    for (const label of ['>100<', '>1000<', '>20k<']) assert.ok(svg.includes(label), label);
  });
});
