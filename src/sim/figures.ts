// The simulator's figures as files: a table as CSV, and a line plot as a
// small hand-written SVG (axes, ticks, labels, a title, one polyline and a
// legend entry per series), so the sweeps' results can sit in docs/ and be
// read in a browser or a diff without a plotting library. Pure: strings in,
// a string out.
// Must never: read a clock or the file system; drop or reorder a row.

export type Cell = string | number;

/** One CSV line per row, a header first; numbers as they print, text quoted only when it must be. */
export function toCsv(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cell = (c: Cell): string => {
    const s = typeof c === 'number' ? (Number.isFinite(c) ? String(c) : '') : c;
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

export interface PlotInit {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** A log10 x axis (community sizes); linear otherwise. */
  xLog?: boolean;
  /** Force the y range to include these (e.g. 0, or 1 for a ratio). */
  yInclude?: readonly number[];
}

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 170, top: 40, bottom: 55 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About `count` round ticks (1, 2 or 5 times a power of ten apart), the first at or below lo and the last at or above hi. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  const last = Math.ceil(hi / step - 1e-9);
  for (let k = Math.floor(lo / step + 1e-9); k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

const label = (v: number): string => (Math.abs(v) >= 10_000 ? `${v / 1000}k` : String(Number(v.toPrecision(6))));

/** A line plot: one polyline per series over shared axes. */
export function linePlot(init: PlotInit): string {
  const points = init.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = points.map(([x]) => x);
  const ys = [...points.map(([, y]) => y), ...(init.yInclude ?? [])];
  const log = init.xLog === true;
  const fx = (x: number): number => (log ? Math.log10(x) : x);
  let [x0, x1] = [Math.min(...xs.map(fx)), Math.max(...xs.map(fx))];
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x0 + 1];
  let yTicks = niceTicks(Math.min(...ys), Math.max(...ys));
  if (yTicks.length < 2) yTicks = niceTicks((yTicks[0] ?? 0) - 1, (yTicks[0] ?? 0) + 1);
  // The y axis runs from tick to tick, which cover every value.
  const [y0, y1] = [yTicks[0] as number, yTicks[yTicks.length - 1] as number];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number): number => MARGIN.left + ((fx(x) - x0) / (x1 - x0)) * plotW;
  const py = (y: number): number => MARGIN.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const xTicks = log
    ? niceTicks(Math.floor(x0), Math.ceil(x1), Math.max(1, Math.ceil(x1) - Math.floor(x0))).filter(Number.isInteger).map((e) => 10 ** e).filter((t) => fx(t) >= x0 - 1e-9 && fx(t) <= x1 + 1e-9)
    : niceTicks(x0, x1).filter((t) => t >= x0 - 1e-9 && t <= x1 + 1e-9);
  // A log axis also labels the sizes plotted, which are what the reader looks for.
  const xLabels = log ? [...new Set([...xTicks, ...xs])].sort((a, b) => a - b) : xTicks;
  const f = (n: number): string => n.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(init.title)}</text>`,
  ];
  for (const t of yTicks) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${f(py(t))}" y2="${f(py(t))}" stroke="#ddd"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${f(py(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of xLabels) {
    out.push(`<line x1="${f(px(t))}" x2="${f(px(t))}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 5}" stroke="black"/>`);
    out.push(`<text x="${f(px(t))}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${label(t)}</text>`);
  }
  out.push(`<path d="M${MARGIN.left},${MARGIN.top}V${MARGIN.top + plotH}H${MARGIN.left + plotW}" fill="none" stroke="black"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(init.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(init.yLabel)}</text>`);
  init.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${f(px(x))},${f(py(y))}`);
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.join(' ')}"/>`);
    // One marker per point: the sweeps have few points, and a reader wants to see where they are.
    if (pts.length <= 40) for (const p of pts) out.push(`<circle cx="${p.split(',')[0] as string}" cy="${p.split(',')[1] as string}" r="3" fill="${colour}"/>`);
    const ly = MARGIN.top + 10 + i * 20;
    out.push(`<line x1="${MARGIN.left + plotW + 12}" x2="${MARGIN.left + plotW + 36}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="${MARGIN.left + plotW + 42}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
