/**
 * Folds host names into a compact set, as pdsh and ClusterShell print them:
 * web-1..web-40 and db-2 become "db-2,web-[1-40]". Numbers keep their zero
 * padding (node-[01-12]); names without a number stay as they are.
 */
export function foldHostNames(names: readonly string[]): string {
  const groups = new Map<string, { prefix: string; suffix: string; width: number; numbers: number[] }>();
  const plain: string[] = [];
  for (const name of new Set(names)) {
    const match = /^(.*?)(\d+)(\D*)$/.exec(name);
    if (!match) {
      plain.push(name);
      continue;
    }
    const [, prefix = "", digits = "", suffix = ""] = match;
    // Zero-padded numbers only fold with numbers of the same width.
    const width = digits.startsWith("0") && digits.length > 1 ? digits.length : 0;
    const key = `${prefix}\u0000${suffix}\u0000${width}`;
    const group = groups.get(key) ?? { prefix, suffix, width, numbers: [] };
    group.numbers.push(Number(digits));
    groups.set(key, group);
  }
  const parts = [...plain];
  for (const group of groups.values()) {
    const numbers = [...new Set(group.numbers)].sort((a, b) => a - b);
    const pad = (n: number) => String(n).padStart(group.width, "0");
    if (numbers.length === 1) {
      parts.push(`${group.prefix}${pad(numbers[0]!)}${group.suffix}`);
      continue;
    }
    const ranges: string[] = [];
    for (let i = 0; i < numbers.length; i++) {
      const start = numbers[i]!;
      let end = start;
      while (numbers[i + 1] === end + 1) end = numbers[++i]!;
      ranges.push(end === start ? pad(start) : `${pad(start)}-${pad(end)}`);
    }
    parts.push(`${group.prefix}[${ranges.join(",")}]${group.suffix}`);
  }
  return parts.sort().join(",");
}
