// The soak's arithmetic and pictures: the least-squares slope of a series,
// and RSS over time drawn twice, as text for the generated section of
// RESULTS.md and as an SVG file beside it.

export interface Point {
  /** Seconds since the soak began. */
  t: number;
  y: number;
}

export interface Fit {
  /** Change of y per second. */
  slope: number;
  intercept: number;
  points: number;
}

/** Ordinary least squares of y on t; a slope of NaN below two distinct times. */
export function leastSquares(points: Point[]): Fit {
  const n = points.length;
  const tMean = points.reduce((sum, p) => sum + p.t, 0) / n;
  const yMean = points.reduce((sum, p) => sum + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - tMean) * (p.y - yMean);
    den += (p.t - tMean) ** 2;
  }
  const slope = den > 0 ? num / den : Number.NaN;
  return { slope, intercept: yMean - slope * tMean, points: n };
}

/** The series as rows of text: one column per time slice (its highest value), y labelled on the left. */
export function asciiPlot(points: Point[], options: { width?: number; height?: number; unit: string; fromT?: number }): string[] {
  const width = options.width ?? 64;
  const height = options.height ?? 12;
  if (points.length === 0) return ["(no samples)"];
  const tMax = Math.max(...points.map((p) => p.t), 1);
  const columns: number[] = Array.from({ length: width }, () => Number.NaN);
  for (const p of points) {
    const col = Math.min(width - 1, Math.floor((p.t / tMax) * width));
    columns[col] = Number.isNaN(columns[col]!) ? p.y : Math.max(columns[col]!, p.y);
  }
  const ys = points.map((p) => p.y);
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (hi - lo < 1) [lo, hi] = [lo - 0.5, hi + 0.5];
  const rowOf = (y: number) => Math.round(((y - lo) / (hi - lo)) * (height - 1));
  const label = (y: number) => y.toFixed(1).padStart(7);
  const fromCol = options.fromT === undefined ? -1 : Math.floor((options.fromT / tMax) * width);
  const rows: string[] = [];
  for (let row = height - 1; row >= 0; row--) {
    const y = lo + ((hi - lo) * row) / (height - 1);
    const cells = columns.map((value, col) => (!Number.isNaN(value) && rowOf(value) === row ? "*" : col === fromCol ? ":" : " ")).join("");
    rows.push(`${row === height - 1 || row === 0 || row === Math.floor((height - 1) / 2) ? label(y) : " ".repeat(7)} |${cells}`);
  }
  rows.push(`${" ".repeat(7)} +${"-".repeat(width)}`);
  const minutes = tMax / 60;
  const end = `${minutes.toFixed(minutes < 10 ? 1 : 0)} min`;
  rows.push(`${" ".repeat(9)}0${end.padStart(width - 1)}`);
  rows.push(`${" ".repeat(9)}${options.unit}${fromCol >= 0 ? "; the slope is fitted right of the dotted line" : ""}`);
  return rows;
}

/** An SVG line chart of the series with the fitted line over [fromT, end]; every text in it is the caller's own. */
export function svgPlot(points: Point[], options: { title: string; unit: string; fit?: { fit: Fit; fromT: number } }): string {
  const [w, h] = [760, 320];
  const [left, right, top, bottom] = [64, 20, 36, 44];
  const tMax = Math.max(...points.map((p) => p.t), 1);
  const ys = points.map((p) => p.y);
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  const pad = Math.max(1, (hi - lo) * 0.1);
  [lo, hi] = [Math.max(0, lo - pad), hi + pad];
  const x = (t: number) => left + (t / tMax) * (w - left - right);
  const y = (v: number) => top + (1 - (v - lo) / (hi - lo)) * (h - top - bottom);
  const f = (n: number) => n.toFixed(1);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14">${options.title}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    parts.push(`<line x1="${left}" x2="${w - right}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  const minutes = tMax / 60;
  const step = minutes > 20 ? 5 : minutes > 6 ? 2 : minutes > 2 ? 1 : 0.5;
  for (let m = 0; m <= minutes + 1e-9; m += step) {
    parts.push(`<line x1="${f(x(m * 60))}" x2="${f(x(m * 60))}" y1="${top}" y2="${h - bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${f(x(m * 60))}" y="${h - bottom + 16}" text-anchor="middle">${m}</text>`);
  }
  parts.push(`<text x="${(left + w - right) / 2}" y="${h - 8}" text-anchor="middle">minutes</text>`);
  parts.push(`<text x="14" y="${(top + h - bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(top + h - bottom) / 2})">${options.unit}</text>`);
  parts.push(`<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="${points.map((p) => `${f(x(p.t))},${f(y(p.y))}`).join(" ")}"/>`);
  if (options.fit && Number.isFinite(options.fit.fit.slope)) {
    const { fit, fromT } = options.fit;
    const at = (t: number) => fit.intercept + fit.slope * t;
    parts.push(`<line x1="${f(x(fromT))}" x2="${f(x(tMax))}" y1="${f(y(at(fromT)))}" y2="${f(y(at(tMax)))}" stroke="#d1242f" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    parts.push(`<line x1="${f(x(fromT))}" x2="${f(x(fromT))}" y1="${top}" y2="${h - bottom}" stroke="#d1242f" stroke-dasharray="2 3"/>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${w - left - right}" height="${h - top - bottom}" fill="none" stroke="#888"/>`, "</svg>", "");
  return parts.join("\n");
}
