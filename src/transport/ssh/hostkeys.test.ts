import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { entryMatches, fingerprintOf, KnownHosts, keyTypeOf, knownHostName, parseKnownHosts } from "./hostkeys.ts";
import type { SshEndpoint } from "./types.ts";

/** An ssh-ed25519 public key in SSH wire format, as a server offers it. */
function ed25519Blob(): Buffer {
  const der = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" });
  const raw = der.subarray(der.length - 32);
  const field = (data: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, data.length]), data]);
  return Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]);
}

const line = (patterns: string, blob: Buffer) => `${patterns} ${keyTypeOf(blob)} ${blob.toString("base64")}`;
const hashed = (name: string) => {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
};
const web: SshEndpoint = { name: "web-1", host: "10.0.0.5", port: 2222, user: "deploy", identityFiles: [], useAgent: false };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-hostkeys-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function knownHosts(lines: string[]) {
  const file = join(dir, `known_hosts-${randomBytes(4).toString("hex")}`);
  await writeFile(file, lines.join("\n") + "\n");
  return KnownHosts.load(file);
}

describe("known_hosts", () => {
  test("names a non-22 port in brackets and reads key type and fingerprint from the blob", () => {
    const blob = ed25519Blob();
    expect(knownHostName("Web.Example", 22)).toBe("web.example");
    expect(knownHostName("10.0.0.5", 2222)).toBe("[10.0.0.5]:2222");
    expect(keyTypeOf(blob)).toBe("ssh-ed25519");
    expect(fingerprintOf(blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  test("skips comments, blank lines and keys that do not decode to their stated type", () => {
    const blob = ed25519Blob();
    const entries = parseKnownHosts(["# comment", "", line("a", blob), "b ssh-rsa AAAA", `c ssh-rsa ${blob.toString("base64")}`].join("\n"));
    expect(entries.map((e) => [e.patterns, e.line])).toEqual([[["a"], 3]]);
  });

  test("matches plain, hashed, wildcard and negated patterns as OpenSSH does", async () => {
    const [a, b, c, d] = [ed25519Blob(), ed25519Blob(), ed25519Blob(), ed25519Blob()];
    const known = await knownHosts([
      line("[10.0.0.5]:2222", a),
      line(hashed("[10.0.0.6]:2222"), b),
      line("[10.0.1.*]:2222,![10.0.1.9]:2222", c),
      line("10.0.0.5", d),
    ]);
    expect(known.lookup("10.0.0.5", 2222).map((e) => e.blob)).toEqual([a]);
    expect(known.lookup("10.0.0.6", 2222).map((e) => e.blob)).toEqual([b]);
    expect(known.lookup("10.0.1.7", 2222).map((e) => e.blob)).toEqual([c]);
    expect(known.lookup("10.0.1.9", 2222)).toEqual([]);
    expect(known.lookup("10.0.0.5", 22).map((e) => e.blob)).toEqual([d]);
  });

  test("a lookup finds what testing every line would, in file order, in a file of many kinds of lines", async () => {
    const blob = ed25519Blob();
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) {
      const name = `[10.0.${i >> 8}.${i & 255}]:2222`;
      if (i % 7 === 0) lines.push(line(hashed(name), blob));
      else if (i % 11 === 0) lines.push(line(`${name.toUpperCase()},Host-${i}.Example`, blob));
      else if (i % 13 === 0) lines.push(`@revoked ${line(name, blob)}`, `@cert-authority ${line(name, blob)}`);
      else lines.push(line(name, blob));
      if (i % 17 === 0) lines.push(line(`${name},${name}`, blob));
    }
    lines.push(line("[10.0.0.*]:2222,![10.0.0.3]:2222", blob), line("HOST-2?.example", blob), line("[10.0.0.9]:2222", blob));
    const known = await knownHosts(lines);
    const every = parseKnownHosts(lines.join("\n")).filter((e) => e.marker !== "@cert-authority");
    const queries = [
      ...Array.from({ length: 210 }, (_, i) => [`10.0.${i >> 8}.${i & 255}`, 2222] as const),
      ["host-22.example", 22],
      ["HOST-22.EXAMPLE", 22],
      ["host-55.example", 22],
      ["10.0.0.3", 22],
    ] as const;
    let matched = 0;
    for (const [host, port] of queries) {
      const expected = every.filter((e) => entryMatches(e, knownHostName(host, port))).map((e) => e.line);
      expect(known.lookup(host, port).map((e) => e.line)).toEqual(expected);
      matched += expected.length;
    }
    expect(matched).toBeGreaterThan(400);
  });

  test("accepts the recorded key and refuses another one in every checking mode but off", async () => {
    const recorded = ed25519Blob();
    const known = await knownHosts(["# first line", line("[10.0.0.5]:2222", recorded)]);
    expect(known.verify(web, recorded, "strict")).toEqual({ ok: true, learned: false, matched: { file: known.file, line: 2 } });
    const impostor = ed25519Blob();
    for (const mode of ["strict", "accept-new"] as const) {
      const verdict = known.verify(web, impostor, mode);
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) {
        expect(verdict.error.code).toBe("E_SSH_HOSTKEY_CHANGED");
        expect(verdict.error.message).toContain(`${known.file}:2`);
        expect(verdict.error.message).toContain(fingerprintOf(recorded));
        expect(verdict.error.message).toContain(fingerprintOf(impostor));
      }
    }
    expect(known.verify(web, impostor, "off").ok).toBe(true);
  });

  test("refuses a key marked @revoked and ignores @cert-authority lines", async () => {
    const revoked = ed25519Blob();
    const known = await knownHosts([`@revoked * ${keyTypeOf(revoked)} ${revoked.toString("base64")}`, `@cert-authority * ${keyTypeOf(revoked)} ${revoked.toString("base64")}`]);
    const verdict = known.verify(web, revoked, "accept-new");
    expect(!verdict.ok && verdict.error.code).toBe("E_SSH_HOSTKEY_REVOKED");
    expect(known.lookup("10.0.0.5", 2222)).toHaveLength(1);
  });

  test("accept-new records an unknown host at once in memory and then in the file; strict refuses it", async () => {
    const known = await knownHosts(["# nothing yet"]);
    const blob = ed25519Blob();
    const strict = known.verify(web, blob, "strict");
    expect(!strict.ok && strict.error.code).toBe("E_SSH_HOSTKEY_UNKNOWN");
    expect(known.verify(web, blob, "accept-new")).toEqual({ ok: true, learned: true });
    expect(known.verify(web, blob, "strict")).toEqual({ ok: true, learned: false, matched: { file: known.file, line: 2 } });
    await known.flush();
    expect(await readFile(known.file, "utf8")).toBe(`# nothing yet\n[10.0.0.5]:2222 ssh-ed25519 ${blob.toString("base64")}\n`);
  });

  test("offers the host key types already recorded for the host first", async () => {
    const known = await knownHosts([`[10.0.0.5]:2222 ssh-rsa ${Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from("ssh-rsa"), Buffer.from([0, 0, 0, 1, 1])]).toString("base64")}`]);
    expect(known.preferredAlgorithms("10.0.0.5", 2222).slice(0, 3)).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
    expect(known.preferredAlgorithms("10.0.0.6", 2222)[0]).toBe("ssh-ed25519");
  });

  test("several files are one list: a key in the second is known, and a learned key goes to the first", async () => {
    const blob = ed25519Blob();
    const first = join(dir, `first-${randomBytes(4).toString("hex")}`);
    const second = join(dir, `second-${randomBytes(4).toString("hex")}`);
    await writeFile(second, `# other\n${line("[10.0.0.5]:2222", blob)}\n`);
    const known = await KnownHosts.load([first, second]);
    expect(known.verify(web, blob, "strict")).toEqual({ ok: true, learned: false, matched: { file: second, line: 2 } });
    const changed = known.verify(web, ed25519Blob(), "strict");
    expect(changed.ok || changed.error.message).toContain(`${second}:2`);
    const other = { ...web, host: "10.0.0.6" };
    expect(known.verify(other, blob, "accept-new")).toEqual({ ok: true, learned: true });
    await known.flush();
    expect(await readFile(first, "utf8")).toBe(`[10.0.0.6]:2222 ssh-ed25519 ${blob.toString("base64")}\n`);
  });
});
