import { describe, expect, test } from "bun:test";
import { scanCommand, sudoIn } from "./index.ts";

describe("sudo detection", () => {
  test("finds sudo at every command position", () => {
    for (const command of [
      "sudo systemctl restart api",
      "cd /srv && sudo make install",
      "false || sudo reboot",
      "echo x; sudo rm -rf /tmp/x",
      "ps aux | sudo tee /root/ps",
      "echo $(sudo cat /etc/shadow)",
      'echo "$(sudo id)"',
      "echo `sudo id`",
      "(sudo id)",
      "FOO=1 sudo id",
      "env -i PATH=/bin sudo id",
      "xargs sudo rm < files",
      "nice -n 10 sudo id",
      "/usr/bin/sudo id",
      "s'u'do id",
      "if true; then sudo id; fi",
      "sh -c 'sudo id'",
      "bash -lc \"echo hi && sudo id\"",
      "true &\nsudo id",
      "2>/dev/null sudo id",
      "doas id",
    ]) {
      expect({ command, sudo: sudoIn(command) }).toEqual({ command, sudo: expect.any(String) });
    }
  });

  test("ignores sudo where it is not a command", () => {
    for (const command of ["echo sudo", "grep sudo /var/log/auth.log", "echo 'sudo id'", 'echo "x; sudo id"', "man sudo", "ls pseudo", "echo a # sudo id", "cat sudoers > /dev/null"]) {
      expect({ command, sudo: sudoIn(command) }).toEqual({ command, sudo: undefined });
    }
  });

  test("finds sudo behind every wrapper of the one table, past the wrappers' options and operands", () => {
    for (const command of [
      "chronic sudo id",
      "busybox sudo id",
      "stdbuf -o L sudo id",
      "timeout -s KILL 5 sudo id",
      "env -u HOME sudo id",
      "ionice -c 3 sudo id",
      "exec -a name sudo id",
      "chroot / sudo id",
      "command sudo id",
      "pkexec id",
      "run0 id",
    ]) {
      expect({ command, sudo: sudoIn(command) }).toEqual({ command, sudo: expect.any(String) });
    }
  });

  test("sees past sudo to the command it runs, and into its shell's script", () => {
    expect(scanCommand("sudo -u app -g ops systemctl restart api")).toMatchObject({ commands: ["systemctl"], wrappers: ["sudo"] });
    expect(scanCommand("sudo sh -c 'doas id'")).toMatchObject({ commands: ["sh", "id"], wrappers: ["sudo", "doas"] });
    expect(scanCommand("nice -n 5 /usr/bin/time -f %e make")).toMatchObject({ commands: ["make"], wrappers: ["nice", "/usr/bin/time"] });
    expect(sudoIn("/usr/bin/doas id")).toBe("doas");
  });

  test("lists the command of each simple command and removes quoting", () => {
    expect(scanCommand("a x; b | c $(d e) && ( f )").commands).toEqual(["a", "b", "c", "d", "f"]);
    expect(scanCommand("systemctl restart 'api' \"web\" a\\ b").unquoted).toBe("systemctl restart api web a b");
    expect(scanCommand("rm  \t-rf  '/var  x'").unquoted).toBe("rm -rf /var  x");
  });
});
