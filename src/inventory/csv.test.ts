import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { csvSource } from "./csv.ts";
import type { HostRecord } from "./types.ts";

const load = (text: string) => csvSource.load(text, { file: "/p/hosts.csv", display: "hosts.csv", homeDir: "/home/u", env: {}, readText: () => Promise.reject(new Error("unused")) });

describe("CSV source", () => {
  test("a header row, then a host a row: fields by column name, groups split on spaces or ;, other columns labels", async () => {
    const hosts = await load(
      [
        "\ufeffname,address,port,user,groups,role,zone",
        "# exported from the CMDB",
        "web-1,10.0.1.1,2222,deploy,frontends prod,web,a",
        "",
        'db-1, 10.0.2.1 ,,,prod;backup,db,"a,b"',
        "cache-1,,,,,,#blue",
      ].join("\r\n"),
    );
    expect(hosts).toEqual([
      { name: "web-1", address: "10.0.1.1", port: 2222, user: "deploy", labels: { role: "web", zone: "a" }, vars: {}, groups: ["frontends", "prod"], source: "hosts.csv:3" },
      { name: "db-1", address: "10.0.2.1", labels: { role: "db", zone: "a,b" }, vars: {}, groups: ["prod", "backup"], source: "hosts.csv:5" },
      { name: "cache-1", labels: { zone: "#blue" }, vars: {}, groups: [], source: "hosts.csv:6" },
    ]);
    expect(await load("")).toEqual([]);
    expect(await load("name,role\n")).toEqual([]);
  });

  test("what cannot be read names file:line and the fix", async () => {
    const cases: [string, string][] = [
      ["host,role\nweb-1,web\n", "hosts.csv:1: the header row has no name column"],
      ["name,role,role\nweb-1,a,b\n", 'hosts.csv:1: the header row names the column "role" twice'],
      ["name,,role\nweb-1,a,b\n", "hosts.csv:1: the header row has a column without a name"],
      ["name,role\nweb-1,web\n,db\n", "hosts.csv:3: the name cell is empty"],
      ["name,port\nweb-1,22\nweb-2,http\n", 'hosts.csv:3: port "http" is not a port'],
      ["name,port\nweb-1,70000\n", 'hosts.csv:2: port "70000" is not a port'],
      ["name,role\nweb-1,web,extra\n", "hosts.csv:2: 3 cells, and the header names 2 columns"],
      ['name,role\nweb-1,"web\n', "hosts.csv:2: cannot read the CSV: Quote Not Closed"],
    ];
    for (const [text, message] of cases) await expect(load(text)).rejects.toMatchObject({ code: "E_INVENTORY_CSV", message: expect.stringContaining(message) });
  });

  test("generated tables written by Python's csv module read back cell for cell", async () => {
    // Python's csv writer is the oracle for quoting: commas, quotes, CR and LF inside cells.
    const char = fc.oneof(fc.constantFrom(",", '"', "\n", "\r", "#", ";", " ", "é", "💥"), fc.string({ minLength: 1, maxLength: 1 }));
    const cell = fc.string({ unit: char, maxLength: 12 }).filter((s) => s === s.trim() && !s.includes("\0"));
    const key = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/).filter((k) => !["name", "address", "port", "user", "groups"].includes(k));
    const table = fc.uniqueArray(key, { minLength: 1, maxLength: 4 }).chain((keys) =>
      fc.record({
        keys: fc.constant(keys),
        rows: fc.array(fc.record({ name: cell.filter((n) => n !== "" && !n.startsWith("#")), values: fc.array(cell, { minLength: keys.length, maxLength: keys.length }) }), { maxLength: 5 }),
      }),
    );
    const tables = fc.sample(table, { numRuns: 150, seed: 11 });
    const writer = "import csv, json, sys, io\nfor t in json.load(sys.stdin):\n  out = io.StringIO()\n  w = csv.writer(out)\n  w.writerow(['name', *t['keys']])\n  for r in t['rows']: w.writerow([r['name'], *r['values']])\n  print(json.dumps(out.getvalue()))\n";
    const python = Bun.spawnSync(["python3", "-c", writer], { stdin: new TextEncoder().encode(JSON.stringify(tables)), stderr: "pipe" });
    expect(python.stderr.toString()).toBe("");
    const files = python.stdout.toString().trim().split("\n").map((line) => JSON.parse(line) as string);
    expect(files.length).toBe(tables.length);
    for (const [i, { keys, rows }] of tables.entries()) {
      const hosts: HostRecord[] = await load(files[i]!);
      expect(hosts.map((h) => [h.name, h.labels])).toEqual(rows.map((r) => [r.name, Object.fromEntries(keys.map((k, j) => [k, r.values[j]!]).filter(([, v]) => v !== ""))]));
    }
  });
});
