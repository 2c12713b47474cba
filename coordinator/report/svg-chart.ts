/**
 * A line chart as inline SVG text, for the self-contained HTML report (no script, no library, no
 * network: it opens from a file on an air-gapped machine). Pure: series in, markup out.
 */

export interface Series {
  name: string;
  /** [x, y] pairs; non-finite y values are left out (a skipped step has no loss). */
  points: readonly (readonly [number, number])[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
}

/** At most this many points per series are drawn (evenly strided, the last one always kept). */
export const MAX_POINTS = 2000;
/** Series with at most this many points also get a dot per point. */
const MARKED_POINTS = 60;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const MARGIN = { left: 64, right: 16, top: 28, bottom: 40 };

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Every k-th point so that at most `max` remain, keeping the last. */
export function thin<T>(points: readonly T[], max = MAX_POINTS): T[] {
  if (points.length <= max) return [...points];
  const stride = Math.ceil(points.length / max);
  const kept = points.filter((_, i) => i % stride === 0);
  if ((points.length - 1) % stride !== 0) kept.push(points[points.length - 1]!);
  return kept;
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const label = (v: number) => (Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/** The chart; a chart with no finite point says so instead of drawing empty axes. */
export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 640;
  const height = spec.height ?? 280;
  const series = spec.series.map((s) => ({ name: s.name, points: thin(s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))) })).filter((s) => s.points.length > 0);
  const head = `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(spec.title)}"><title>${escapeXml(spec.title)}</title><text x="${MARGIN.left}" y="18" font-size="14" font-weight="bold">${escapeXml(spec.title)}</text>`;
  if (series.length === 0) return `${head}<text x="${MARGIN.left}" y="${height / 2}" font-size="12" fill="#666">no data</text></svg>`;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.05, y1 + Math.abs(y1 || 1) * 0.05];
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y: number) => MARGIN.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const f = (v: number) => v.toFixed(1);
  const parts: string[] = [head];
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#ccc"/>`);
  for (const t of ticks(y0, y1)) parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${f(py(t))}" y2="${f(py(t))}" stroke="#eee"/><text x="${MARGIN.left - 6}" y="${f(py(t) + 4)}" font-size="11" text-anchor="end">${label(t)}</text>`);
  for (const t of ticks(x0, x1)) parts.push(`<text x="${f(px(t))}" y="${MARGIN.top + plotH + 16}" font-size="11" text-anchor="middle">${label(t)}</text>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 6}" font-size="12" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ');
    parts.push(`<polyline class="series" data-name="${escapeXml(s.name)}" data-points="${s.points.length}" fill="none" stroke="${color}" stroke-width="1.5" points="${pts}"/>`);
    // Sparse series (evaluations) get a dot per point: a single test score is otherwise invisible.
    if (s.points.length <= MARKED_POINTS) for (const [x, y] of s.points) parts.push(`<circle cx="${f(px(x))}" cy="${f(py(y))}" r="2.5" fill="${color}"/>`);
    const ly = MARGIN.top + 14 + i * 14;
    parts.push(`<rect x="${MARGIN.left + plotW - 150}" y="${ly - 9}" width="10" height="10" fill="${color}"/><text x="${MARGIN.left + plotW - 135}" y="${ly}" font-size="11">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
