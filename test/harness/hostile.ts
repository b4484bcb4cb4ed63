import { readFileSync } from "node:fs";
import { join } from "node:path";

// The hostile values of testdata/hostile/values.json (shell metacharacters,
// quote breakouts, option lookalikes, control characters, invalid UTF-8,
// very long ones), as opskit would hold them, for any test that proves a
// value travels as data.

interface CorpusEntry {
  name: string;
  value?: string;
  utf8Base64?: string;
  repeat?: { text: string; times: number };
}

const corpusFile = JSON.parse(readFileSync(join(import.meta.dir, "../../testdata/hostile/values.json"), "utf8")) as { values: CorpusEntry[]; nul: string[] };

/** Each value as opskit would hold it: invalid UTF-8 arrives decoded with U+FFFD, as from a JSON body or argv. */
export const hostileValues: readonly { name: string; value: string }[] = corpusFile.values.map((entry) => ({
  name: entry.name,
  value:
    entry.value ??
    (entry.repeat ? entry.repeat.text.repeat(entry.repeat.times) : new TextDecoder().decode(Buffer.from(entry.utf8Base64!, "base64"))),
}));

/** Values holding a NUL byte, which no shell variable can hold. */
export const hostileNulValues: readonly string[] = corpusFile.nul;

/** The file a hostile value that ran would create. */
export const pwnedMarker = "/tmp/opskit-pwned";
