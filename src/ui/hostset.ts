/**
 * Folds host names into a compact set, as pdsh and ClusterShell print them:
 * web-1..web-40 and db-2 become "db-2,web-[1-40]". Numbers keep their zero
 * padding (node-[01-12]); names without a number stay as they are.
 */
export function foldHostNames(names: readonly string[]): string {
  const families = new Map<string, { prefix: string; suffix: string; digits: string[] }>();
  const parts: string[] = [];
  for (const name of new Set(names)) {
    const match = /^(.*?)(\d+)(\D*)$/.exec(name);
    if (!match) {
      parts.push(name);
      continue;
    }
    const [, prefix = "", digits = "", suffix = ""] = match;
    const key = `${prefix}\u0000${suffix}`;
    const family = families.get(key) ?? { prefix, suffix, digits: [] };
    family.digits.push(digits);
    families.set(key, family);
  }
  for (const { prefix, suffix, digits } of families.values()) {
    // A family is padded when any member has a leading zero; members of that width join it.
    const padded = digits.find((d) => d.length > 1 && d.startsWith("0"))?.length ?? 0;
    const byWidth = new Map<number, number[]>();
    for (const d of digits) {
      const width = padded && d.length === padded ? padded : 0;
      byWidth.set(width, [...(byWidth.get(width) ?? []), Number(d)]);
    }
    for (const [width, numbers] of byWidth) parts.push(foldFamily(prefix, suffix, width, numbers));
  }
  return parts.sort().join(",");
}

function foldFamily(prefix: string, suffix: string, width: number, list: number[]): string {
  const numbers = [...new Set(list)].sort((a, b) => a - b);
  const pad = (n: number) => String(n).padStart(width, "0");
  if (numbers.length === 1) return `${prefix}${pad(numbers[0]!)}${suffix}`;
  const ranges: string[] = [];
  for (let i = 0; i < numbers.length; i++) {
    const start = numbers[i]!;
    let end = start;
    while (numbers[i + 1] === end + 1) end = numbers[++i]!;
    ranges.push(end === start ? pad(start) : `${pad(start)}-${pad(end)}`);
  }
  return `${prefix}[${ranges.join(",")}]${suffix}`;
}
