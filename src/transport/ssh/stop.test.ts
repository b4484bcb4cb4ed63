import { describe, expect, test } from "bun:test";
import { commandReportingGroup, GroupReportScanner, newGroupMarker, stopScript } from "./stop.ts";

function scanner() {
  const marker = newGroupMarker();
  const out: Buffer[] = [];
  const groups: number[] = [];
  const scan = new GroupReportScanner(marker, (chunk) => out.push(Buffer.from(chunk)), (pgid) => groups.push(pgid));
  return { marker, scan, groups, text: () => Buffer.concat(out).toString() };
}

describe("GroupReportScanner", () => {
  test("takes the report line out and passes everything around it on, fed one byte at a time", () => {
    const { marker, scan, groups, text } = scanner();
    for (const byte of Buffer.from(`rc noise\n${marker}4242\nerr <opskit:P:x>1\n`)) scan.push(Buffer.from([byte]));
    scan.end();
    expect(groups).toEqual([4242]);
    expect(text()).toBe("rc noise\nerr <opskit:P:x>1\n");
  });

  test("passes output on at once when it cannot be the start of the marker", () => {
    const { marker, scan, text, groups } = scanner();
    scan.push(Buffer.from("noise\n"));
    expect(text()).toBe("noise\n");
    scan.push(Buffer.from("half <opskit:"));
    expect(text()).toBe("noise\nhalf ");
    scan.push(Buffer.from(`${marker.slice("<opskit:".length)}7\nstarted\n`));
    expect(groups).toEqual([7]);
    expect(text()).toBe("noise\nhalf started\n");
  });

  test("a stream without the report is kept whole, and a malformed report is output, not a group", () => {
    const plain = scanner();
    plain.scan.push(Buffer.from("just <opskit"));
    plain.scan.end();
    expect(plain.text()).toBe("just <opskit");
    const bad = scanner();
    bad.scan.push(Buffer.from(`${bad.marker}12x\nrest`));
    bad.scan.end();
    expect(bad.groups).toEqual([]);
    expect(bad.text()).toBe("12x\nrest");
  });
});

describe("group reporting and stopping scripts", () => {
  test("the wrapped command reports the shell's pid on stderr and runs the command verbatim in that shell, under dash and bash", () => {
    const marker = newGroupMarker();
    const command = "echo \"it's $(printf '%s' ok)\"; printf '%s\\n' '$HOME' '`x`'; echo pid=$$; exit 3";
    for (const shell of ["/bin/dash", "/bin/bash"]) {
      const result = Bun.spawnSync([shell, "-c", commandReportingGroup(command, marker)], { stdout: "pipe", stderr: "pipe" });
      const stdout = result.stdout.toString();
      const pid = /pid=(\d+)/.exec(stdout)![1];
      expect(result.stderr.toString()).toBe(`${marker}${pid}\n`);
      expect(stdout).toBe(`it's ok\n$HOME\n\`x\`\npid=${pid}\n`);
      expect(result.exitCode).toBe(3);
    }
  });

  test("never signals group 0 or 1 (every process of the user)", () => {
    for (const pgid of [0, 1, -5, 1.5, Number.NaN]) expect(() => stopScript(pgid)).toThrow();
    expect(stopScript(4242)).toContain("kill -s TERM -- -$g");
  });
});
