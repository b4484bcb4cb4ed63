import { describe, expect, test } from "bun:test";
import { reparsedArguments, type CommandWord } from "./shell-commands.ts";
import { isShell, wrappedCommandAt, wrapperOf } from "./shell-wrappers.ts";

const words = (line: string) => line.split(" ");
const runs = (line: string) => {
  const list = words(line);
  let k = 0;
  while (k < list.length && wrapperOf(list[k]!)) k = wrappedCommandAt(list, k);
  return list[k];
};

describe("command wrappers", () => {
  test("the command behind each wrapper, past its options, their values and its operands", () => {
    expect(runs("sudo -u app -g ops systemctl restart api")).toBe("systemctl");
    expect(runs("sudo -n id")).toBe("id");
    expect(runs("doas -u app id")).toBe("id");
    expect(runs("pkexec --user app id")).toBe("id");
    expect(runs("run0 -u app id")).toBe("id");
    expect(runs("env -i -u HOME A=1 B=2 id")).toBe("id");
    expect(runs("nice -n 10 ionice -c 3 id")).toBe("id");
    expect(runs("timeout -s KILL -k 5 30 id")).toBe("id");
    expect(runs("timeout 5s id")).toBe("id");
    expect(runs("stdbuf -o L id")).toBe("id");
    expect(runs("xargs -I {} -n 1 -P 4 id")).toBe("id");
    expect(runs("chroot --userspec app /srv/root id")).toBe("id");
    expect(runs("chronic nohup setsid exec -a name command builtin busybox id")).toBe("id");
    expect(runs("/usr/bin/time -f %e id")).toBe("id");
    expect(runs("sudo -- id")).toBe("id");
    expect(runs("timeout -- 5 id")).toBe("id");
  });

  test("only sudo, doas, pkexec and run0 run as root; other words are not wrappers", () => {
    expect(["sudo", "/usr/bin/doas", "pkexec", "run0", "env", "xargs"].map((w) => wrapperOf(w)?.root)).toEqual([true, true, true, true, false, false]);
    expect(wrapperOf("constructor")).toBeUndefined();
    expect(wrapperOf("systemctl")).toBeUndefined();
    expect([isShell("/bin/sh"), isShell("fish"), isShell("python")]).toEqual([true, true, false]);
  });

  test("the template scanner sees eval behind every wrapper", () => {
    for (const line of ["time -p eval", "chronic eval", "sudo -n eval", "stdbuf -o L eval", "env -u HOME eval", "exec -a name eval", "xargs -t eval", "ionice -c 3 eval"]) {
      const list: CommandWord[] = [...words(line), "\0"].map((text, i, all) => ({ text, placeholders: i === all.length - 1 ? [0] : [] }));
      expect({ line, refused: reparsedArguments(list, new Set()).length }).toEqual({ line, refused: 1 });
    }
  });
});
