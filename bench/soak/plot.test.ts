import { describe, expect, test } from "bun:test";
import { asciiPlot, leastSquares, svgPlot } from "./plot.ts";

describe("soak plot", () => {
  test("least squares recovers the slope and intercept of a line, and fits noise around it to the line", () => {
    const line = Array.from({ length: 50 }, (_, i) => ({ t: i * 10, y: 100 + 0.5 * i * 10 }));
    expect(leastSquares(line).slope).toBeCloseTo(0.5, 10);
    expect(leastSquares(line).intercept).toBeCloseTo(100, 8);
    // A sawtooth of ±5 around the same line, whole cycles: the slope stays the line's.
    const saw = line.map((p, i) => ({ t: p.t, y: p.y + (i % 2 === 0 ? 5 : -5) }));
    expect(leastSquares(saw).slope).toBeCloseTo(0.5, 1);
    expect(Number.isNaN(leastSquares([{ t: 1, y: 1 }]).slope)).toBe(true);
  });

  test("the text plot puts the highest sample on the top row and the lowest on the bottom one", () => {
    const rows = asciiPlot([{ t: 0, y: 10 }, { t: 60, y: 30 }, { t: 120, y: 20 }], { unit: "MB", width: 12, height: 5 });
    expect(rows[0]).toMatch(/^\s+30\.0 \|.*\*/);
    expect(rows[4]).toMatch(/^\s+10\.0 \|\*/);
    expect(rows.at(-2)).toContain("2.0 min");
  });

  test("the SVG holds one polyline point per sample and the fitted line", () => {
    const points = Array.from({ length: 7 }, (_, i) => ({ t: i * 10, y: 100 + i }));
    const svg = svgPlot(points, { title: "RSS", unit: "MB", fit: { fit: leastSquares(points), fromT: 20 } });
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(/points="([^"]*)"/.exec(svg)![1]!.split(" ")).toHaveLength(7);
    expect(svg).toContain('stroke-dasharray="6 4"');
  });
});
