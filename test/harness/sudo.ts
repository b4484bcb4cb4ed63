import { chmodSync, existsSync, writeFileSync } from "node:fs";

// Real sudo (Debian's) for the become tests: the fleet's login user may run
// anything as anyone without a password, and a second login user has no
// sudo rights at all. Written once, as root; a missing sudo is an error,
// never a skip.

/** The login user that sudo refuses (no sudoers entry). */
export const UNPRIVILEGED_USER = "opskit-nosudo";

function run(argv: string[]): void {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (!result.success) throw new Error(`${argv.join(" ")} failed: ${result.stderr.toString().trim()}`);
}

/** sudoers for `loginUser` (NOPASSWD, any target user) and the unprivileged user, created if missing. */
export function ensureSudo(loginUser: string): { unprivileged: string } {
  if (!existsSync("/usr/bin/sudo")) throw new Error("/usr/bin/sudo not found: install sudo (sh scripts/setup.sh does)");
  const rules = `/etc/sudoers.d/${loginUser}`;
  const line = `${loginUser} ALL=(ALL:ALL) NOPASSWD: ALL\n`;
  if (!existsSync(rules)) {
    if (process.getuid?.() !== 0) throw new Error(`${rules} is missing and only root can write it: echo '${line.trim()}' > ${rules}`);
    writeFileSync(`${rules}.new`, line, { mode: 0o440 });
    run(["visudo", "-c", "-q", "-f", `${rules}.new`]);
    run(["mv", `${rules}.new`, rules]);
    chmodSync(rules, 0o440);
  }
  if (!Bun.spawnSync(["id", "-u", UNPRIVILEGED_USER]).success) {
    if (process.getuid?.() !== 0) throw new Error(`user ${UNPRIVILEGED_USER} is missing and only root can create it: useradd -m -s /bin/sh ${UNPRIVILEGED_USER}`);
    run(["useradd", "-m", "-s", "/bin/sh", UNPRIVILEGED_USER]);
  }
  // useradd leaves the password locked (!), and sshd without PAM refuses locked accounts even for keys.
  run(["usermod", "-p", "*", UNPRIVILEGED_USER]);
  return { unprivileged: UNPRIVILEGED_USER };
}
