/** How MTTR numbers read for people, shared by the html, table and markdown renderers. */

/** A relative change in words: -0.58 is "down 58%", 0.12 "up 12%", under half a percent "no change". */
export function formatChange(ratio: number): string {
  if (!Number.isFinite(ratio)) return "n/a";
  const percent = Math.round(Math.abs(ratio) * 100);
  if (percent === 0) return "no change";
  return `${ratio < 0 ? "down" : "up"} ${formatCount(percent)}%`;
}

/** Whole counts with thousands separators, independent of the machine's locale: 9,937. */
export function formatCount(count: number): string {
  return String(Math.round(count)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
