import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { reparsedArguments } from "../expr/shell-commands.ts";
import { scanCommand, sudoIn } from "../policy/index.ts";
import { commandCore } from "./shell-words.ts";

// The audit, the permission scan and the template scanner read wrappers from
// one table (expr/shell-wrappers.ts): whatever chain of wrappers and options
// stands in front of a command, all three find the same command.

/** Each wrapper with option lists it accepts in front of the command: flags, valued options with their values, operands. */
const chains: Record<string, string[][]> = {
  sudo: [[], ["-n"], ["-u", "app"], ["-E", "-u", "app", "-g", "ops"], ["--user", "app", "--"]],
  doas: [[], ["-u", "app"], ["-n"]],
  pkexec: [[], ["--user", "app"]],
  run0: [[], ["-u", "app"], ["--chdir", "/srv"]],
  env: [[], ["-i"], ["A=1"], ["-u", "HOME", "B=2"], ["--chdir", "/srv", "C=3"]],
  nice: [[], ["-n", "10"], ["-5"]],
  ionice: [[], ["-c", "3"], ["-c2", "-n", "7"]],
  nohup: [[]],
  time: [[], ["-p"], ["-f", "%e"]],
  exec: [[], ["-a", "name"]],
  command: [[]],
  builtin: [[]],
  stdbuf: [[], ["-o", "L"], ["-oL", "-e", "0"]],
  timeout: [["5"], ["-s", "KILL", "5"], ["-k", "1", "10s"], ["--", "5"]],
  chronic: [[]],
  setsid: [[]],
  xargs: [[], ["-n", "1"], ["-I", "{}", "-P", "4"], ["-0", "-t"]],
  chroot: [["/srv/root"], ["--userspec", "app", "/srv/root"]],
  busybox: [[]],
};
const root = new Set(["sudo", "doas", "pkexec", "run0"]);

const wrapper = fc.constantFrom(...Object.keys(chains)).chain((name) => fc.constantFrom(...chains[name]!).map((options) => ({ name, words: [name, ...options] })));

describe("one table of wrappers, three readers", () => {
  test("the audit, the permission scan and the template scanner find the same command behind any chain of wrappers", () => {
    fc.assert(
      fc.property(fc.array(wrapper, { maxLength: 4 }), fc.constantFrom("eval", "systemctl", "curl"), (list, command) => {
        const words = [...list.flatMap((w) => w.words), command, "ARG"];
        const core = commandCore(words.map((raw) => ({ raw }) as never));
        const scanned = scanCommand(words.join(" "));
        const refused = reparsedArguments(words.map((text, i) => ({ text: i === words.length - 1 ? "\0" : text, placeholders: i === words.length - 1 ? [0] : [] })), new Set());
        const sudo = list.find((w) => root.has(w.name))?.name;
        return core.name === command && scanned.commands.join() === command && (refused.length > 0) === (command === "eval") && sudoIn(words.join(" ")) === sudo;
      }),
      { numRuns: 300 },
    );
  });

  test("commandCore names each wrapper with its words", () => {
    const words = ["sudo", "-u", "app", "timeout", "5", "curl", "-s"].map((raw) => ({ raw }) as never);
    const core = commandCore(words);
    expect({ name: core.name, index: core.index, wrappers: core.wrappers.map((w) => [w.name, w.words.length]) }).toEqual({ name: "curl", index: 5, wrappers: [["sudo", 3], ["timeout", 2]] });
  });
});
