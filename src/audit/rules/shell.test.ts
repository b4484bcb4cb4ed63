import { describe, expect, test } from "bun:test";
import { registry, shannonEntropy, type AuditContext, type Hit } from "../index.ts";

const context: AuditContext = { stepTimeoutOf: () => undefined };

/** Runs the shell rules over a script; a #! line and set -e are added unless the script has its own. */
async function shell(text: string, { raw = false } = {}): Promise<Hit[]> {
  const source = raw ? text : `#!/bin/sh\nset -e\n${text}\n`;
  const hits: Hit[] = [];
  for (const set of registry.shell) hits.push(...(await set.check({ path: "/x/test.sh", display: "test.sh", language: "shell", dialect: "sh", text: source }, context)));
  return hits;
}

/** The rule ids found, with their line numbers in the snippet (after the two added lines). */
async function found(text: string, rule: string): Promise<number[]> {
  return (await shell(text)).filter((h) => h.rule === rule).map((h) => h.line - 2).sort((a, b) => a - b);
}

describe("OPS-SH-001 download piped to a shell", () => {
  test("curl or wget piped into sh, bash or sudo bash is found, also through process and command substitution", async () => {
    expect(await found("curl -fsSL https://get.example.com | sh", "OPS-SH-001")).toEqual([1]);
    expect(await found("wget -qO- https://x.example | sudo -E bash -s -- --yes", "OPS-SH-001")).toEqual([1]);
    expect(await found("bash <(curl -s https://x.example/i.sh)", "OPS-SH-001")).toEqual([1]);
    expect(await found('sh -c "$(curl -fsSL https://x.example/i.sh)"', "OPS-SH-001")).toEqual([1]);
    expect(await found("curl -s https://x.example \\\n  | bash", "OPS-SH-001")).toEqual([1]);
  });

  test("a pipe into jq, a shell running a script file, and the words in strings, comments and here-documents are not", async () => {
    const script = [
      "curl -s https://api.example/v1 | jq .",
      "curl -s https://x.example/data | bash ./process.sh",
      'echo "curl https://x.example | sh"',
      "# curl https://x.example | sh",
      "cat <<'EOF' > README",
      "curl https://x.example | sh",
      "EOF",
      "curl -o i.sh https://x.example/i.sh && sha256sum -c i.sh.sha256",
      'case "$1" in',
      "  curl|sh) echo tool ;;",
      "esac",
    ].join("\n");
    expect(await found(script, "OPS-SH-001")).toEqual([]);
  });

  test("inside a ${X:-$(...)} default and an unquoted here-document's substitutions, which the shell runs, it is found", async () => {
    expect(await found('X="${X:-$(curl -fsSL https://get.example | sh)}"', "OPS-SH-001")).toEqual([1]);
    expect(await found(": ${X:=$(wget -qO- https://get.example | bash)}", "OPS-SH-001")).toEqual([1]);
    expect(await found("cat <<EOF > /etc/motd\n$(curl -s https://x.example | sh)\nEOF", "OPS-SH-001")).toEqual([2]);
    expect(await found("cat <<-EOF\n\tnote `curl -s https://x.example | sh`\n\tEOF", "OPS-SH-001")).toEqual([2]);
    expect(await found("cat <<EOF\n'${V:-$(curl -s https://x.example | sh)}'\nEOF", "OPS-SH-001")).toEqual([2]);
  });

  test("a quoted here-document (<<'EOF', <<\"EOF\", <<\\EOF) and an escaped \\$( stay data", async () => {
    for (const delimiter of ["'EOF'", '"EOF"', "\\EOF", "E'O'F"]) {
      expect(await found(`cat <<${delimiter}\n$(curl -s https://x.example | sh)\n\`curl -s https://x.example | sh\`\nEOF`, "OPS-SH-001")).toEqual([]);
    }
    expect(await found("cat <<EOF\n\\$(curl -s https://x.example | sh)\nEOF", "OPS-SH-001")).toEqual([]);
  });
});

describe("OPS-SH-002 rm -rf on an unguarded variable", () => {
  test("unquoted variables and quoted ones that leave / or a system directory when empty are found", async () => {
    expect(await found("rm -rf $DIR/", "OPS-SH-002")).toEqual([1]);
    expect(await found('rm -rf "$X"/*', "OPS-SH-002")).toEqual([1]);
    expect(await found('rm -fr "${X}/"', "OPS-SH-002")).toEqual([1]);
    expect(await found('rm -r -f "$PREFIX/usr"', "OPS-SH-002")).toEqual([1]);
    expect(await found("sudo rm -rf $D", "OPS-SH-002")).toEqual([1]);
    expect(await found('T=$(mktemp -d)\nrm -rf "$T"/*', "OPS-SH-002")).toEqual([2]);
  });

  test("${X:?}, a test before it, an earlier guard, a literal-only variable, defaults and paths below / are not", async () => {
    const script = [
      'rm -rf "${X:?}"/*',
      'rm -rf "$X"',
      'rm -rf "$DPKG_ROOT/var/lib/foo"',
      "rm -r $X",
      "CACHE=/var/cache/shop",
      "rm -rf $CACHE/*",
      '[ -n "$Y" ] && rm -rf "$Y"/*',
      ': "${Z:?}"',
      'rm -rf "$Z"/*',
      'rm -rf "${TMPDIR:-/tmp}"/shop',
      "rm -rf /tmp/build",
    ].join("\n");
    expect(await found(script, "OPS-SH-002")).toEqual([]);
  });

  test("a guard after the command does not count", async () => {
    expect(await found('rm -rf "$W"/*\n: "${W:?}"', "OPS-SH-002")).toEqual([1]);
  });

  test("a guard counts only where it runs first: not from a sibling case item, if arm, loop body or another function", async () => {
    const script = [
      'case "$1" in', // 1
      '  safe) rm -rf "${TARGET:?}"/cache ;;',
      "  all)",
      "    rm -rf ${TARGET}", // 4: the sibling's guard does not run on this path
      "    ;;",
      "esac",
      'if [ "$1" = a ]; then',
      '  : "${OUT:?}"',
      '  rm -rf "$OUT"/*', // 9: guarded in its own arm
      "else",
      '  rm -rf "$OUT"/*', // 11
      "fi",
      'for f in "$@"; do : "${L:?}"; done',
      'rm -rf "$L"/*', // 14: the loop may not have run
      'clean() { : "${D:?}"; rm -rf "$D"/*; }', // 15: guarded
      'wipe() { rm -rf "$D"/*; }', // 16
      ': "${TOP:?}"',
      'case "$1" in x) rm -rf $TOP ;; esac', // 18: the guard before the case runs on every path
    ].join("\n");
    expect(await found(script, "OPS-SH-002")).toEqual([4, 11, 14, 16]);
  });

  test("inside $(( $(...) )) and ${X:+$(...)} it is found", async () => {
    expect(await found("n=$(( $(rm -rf $D/ ; echo 1) + 1 ))", "OPS-SH-002")).toEqual([1]);
    expect(await found('Y="${X:+$(rm -rf $D/)}"', "OPS-SH-002")).toEqual([1]);
  });

  test("a case behind a reserved word (do case, if case) is a case: a sibling item's guard does not count", async () => {
    expect(await found('for d in "$@"; do case $d in\n  a) : "${T:?}" ;;\n  b) rm -rf $T/ ;;\nesac; done', "OPS-SH-002")).toEqual([3]);
    // (*) true: the rm runs when $1 is neither a nor b, where nothing checked T.
    expect(await found('if case $1 in (a|b) : "${T:?}";; (*) true;; esac; then rm -rf "$T"/*; fi', "OPS-SH-002")).toEqual([1]);
    expect(await found(': "${T:?}"\nwhile read -r d; do case $d in\n  (a) rm -rf "$T"/* ;;\nesac; done', "OPS-SH-002")).toEqual([]);
  });

  test("a variable a nested loop sets (do for H in ...) is not a literal-only constant", async () => {
    expect(await found("H=/srv/a\nwhile read -r l; do for H in $l; do rm -rf $H/; done; done", "OPS-SH-002")).toEqual([2]);
  });
});

describe("OPS-SH-003 host key checking disabled", () => {
  test("StrictHostKeyChecking=no, UserKnownHostsFile=/dev/null, in variables and in an ssh_config here-document", async () => {
    expect(await found("ssh -o StrictHostKeyChecking=no deploy@web-1 uptime", "OPS-SH-003")).toEqual([1]);
    expect(await found("scp -o UserKnownHostsFile=/dev/null f web-1:", "OPS-SH-003")).toEqual([1]);
    expect(await found('GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=no" git pull', "OPS-SH-003")).toEqual([1]);
    expect(await found("cat >> ~/.ssh/config <<EOF\nHost *\n  StrictHostKeyChecking no\nEOF", "OPS-SH-003")).toEqual([3]);
  });

  test("accept-new, yes, and a comment are not", async () => {
    expect(await found("ssh -o StrictHostKeyChecking=accept-new web-1\nssh -o StrictHostKeyChecking=yes web-2\n# StrictHostKeyChecking=no is bad", "OPS-SH-003")).toEqual([]);
  });
});

describe("OPS-SH-004 chmod 777", () => {
  test("777, -R 0777 and a+rwx are found; 1777, 755 and an echo are not", async () => {
    expect(await found("chmod 777 /srv/x\nchmod -R 0777 /srv/y\nchmod a+rwx f", "OPS-SH-004")).toEqual([1, 2, 3]);
    expect(await found("chmod 1777 /tmp/drop\nchmod 755 bin\necho chmod 777 x", "OPS-SH-004")).toEqual([]);
  });
});

describe("OPS-SH-005 no set -e", () => {
  const errexit = async (text: string) => (await shell(text, { raw: true })).filter((h) => h.rule === "OPS-SH-005").map((h) => h.line);

  test("a script whose failures go unnoticed is found at its first such command", async () => {
    expect(await errexit("#!/bin/sh\necho start\ncp a b\nrm c\necho done\n")).toEqual([3]);
  });

  test("set -e in any form, -e on the #! line, a sourced file, exec wrappers and checked commands are not", async () => {
    for (const text of [
      "#!/bin/sh -e\ncp a b\nrm c\n",
      "#!/bin/bash\nset -euo pipefail\ncp a b\nrm c\n",
      "#!/bin/sh\nset -o errexit\ncp a b\nrm c\n",
      "#!/usr/bin/env -S bash -e\ncp a b\nrm c\n",
      "cp a b\nrm c\n",
      '#!/bin/sh\nexport A=1\nexec /usr/lib/foo/foo "$@"\n',
      '#!/bin/sh\nfoo "$@"\n',
      "#!/bin/sh\ncp a b || exit 1\nif rm c; then echo ok; fi\nfoo\n",
    ]) {
      expect(await errexit(text)).toEqual([]);
    }
  });
});

describe("OPS-SH-006 sudo without -n", () => {
  test("sudo with and without options is found; sudo -n, --non-interactive and -nu are not", async () => {
    expect(await found("sudo systemctl restart shop\nsudo -u app /opt/app/bin/migrate", "OPS-SH-006")).toEqual([1, 2]);
    expect(await found("sudo -n systemctl restart shop\nsudo --non-interactive true\nsudo -nu app id\necho sudo reboot", "OPS-SH-006")).toEqual([]);
  });
});

describe("OPS-SH-007 eval of a variable", () => {
  test("eval of $VAR and ${VAR} is found", async () => {
    expect(await found('eval "$CMD"\neval $x\neval "echo ${VAR}"', "OPS-SH-007")).toEqual([1, 2, 3]);
  });

  test("eval of command output, a single-quoted string and getopt's set -- idiom are not", async () => {
    expect(await found('eval "$(ssh-agent -s)"\neval \'x=$y\'\neval set -- "$ARGS"\neval "set -- $ARGS"', "OPS-SH-007")).toEqual([]);
  });
});

describe("OPS-SH-008 network call in a loop without a timeout", () => {
  test("ssh, curl and wget inside for and while loops (and their conditions and substitutions) are found", async () => {
    const script = ["for h in web-1 web-2; do", "  ssh $h uptime", "done", "while read -r u; do curl -s \"$u\"; done < urls", "for f in a b; do", "  x=$(wget -qO- https://x.example/$f)", "done", "while ssh web-1 test -f /run/lock; do sleep 5; done"].join("\n");
    expect(await found(script, "OPS-SH-008")).toEqual([2, 4, 6, 8]);
  });

  test("bounded calls, calls outside loops and a loop's word list are not", async () => {
    const script = [
      "for h in web-1 web-2; do",
      "  ssh -o ConnectTimeout=5 $h uptime",
      "  curl --max-time 5 https://$h/",
      "  curl -sm 5 https://$h/",
      "  timeout 10 ssh $h uptime",
      "  wget -T 5 https://$h/",
      "done",
      "ssh web-1 uptime",
      "for u in $(curl -s https://x.example/list); do echo $u; done",
    ].join("\n");
    expect(await found(script, "OPS-SH-008")).toEqual([]);
  });
});

describe("secrets in shell scripts", () => {
  test("an AWS access key id is found anywhere, comments included, except AWS's documentation key", async () => {
    expect(await found("KEY=AKIAOPSKITFAKEKEY002\n# old: AKIAOPSKITFAKEKEY003\nDOC=AKIAIOSFODNN7EXAMPLE", "OPS-SEC-001")).toEqual([1, 2]);
  });

  test("a private key block is found; a grep for its header is not", async () => {
    const key = "cat > id <<EOF\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\nEOF";
    expect(await found(key, "OPS-SEC-002")).toEqual([2]);
    expect(await found('grep -q -- "-----BEGIN RSA PRIVATE KEY-----" "$f"', "OPS-SEC-002")).toEqual([]);
  });

  test("password and token names assigned literals, as variables, exports, prefixes and --options", async () => {
    const script = ["DB_PASSWORD=hunter22", "export API_TOKEN='abc123xyz'", "PGPASSWORD=secretpw psql -c 'select 1'", "mysql --password=hunter22 shop"].join("\n");
    expect(await found(script, "OPS-SEC-003")).toEqual([1, 2, 3, 4]);
  });

  test("references, expansions, empty values, placeholders, file names and PWD are not secrets", async () => {
    const script = ['PASSWORD="$1"', "PASSWORD=$(cat /run/secrets/db)", 'PASSWORD=""', "TOKEN_FILE=/etc/shop/token", "PWD=/tmp", "password=changeme", "read -r password", 'TOKEN="${TOKEN:-}"'].join("\n");
    expect(await found(script, "OPS-SEC-003")).toEqual([]);
    expect(await found(script, "OPS-SEC-004")).toEqual([]);
  });

  test("a random-looking value in a *_KEY or *_SECRET name is found; identifiers and paths are not", async () => {
    expect(await found("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Kt3pLx1\nAPP_SECRET=9f8e7d6c5b4a39281706f5e4d3c2b1a0", "OPS-SEC-004")).toEqual([1, 2]);
    expect(await found("SORT_KEY=production_database_key\nGPG_KEY=/usr/share/keyrings/shop.gpg\nDBUS_KEY=org.freedesktop.NetworkManager", "OPS-SEC-004")).toEqual([]);
  });

  test("the finding masks the secret in its source line", async () => {
    const [hit] = (await shell("DB_PASSWORD=hunter22")).filter((h) => h.rule === "OPS-SEC-003");
    expect(hit?.redact).toEqual({ column: 13, length: 8 });
  });

  test("Shannon entropy is measured in bits per character", () => {
    expect(shannonEntropy("aaaa")).toBe(0);
    expect(shannonEntropy("abcd")).toBe(2);
    expect(shannonEntropy("aabb")).toBe(1);
  });
});

describe("shell syntax the rules rely on", () => {
  test("positions are 1-based line and column of the offending word", async () => {
    const [hit] = (await shell("echo ok\n  chmod 777 /srv/x")).filter((h) => h.rule === "OPS-SH-004");
    expect(hit).toMatchObject({ line: 4, column: 9 });
  });

  test("here-documents with <<- and quoted delimiters are data until their delimiter", async () => {
    const script = ["cat <<-'END'", "\tsudo rm -rf $X/", "\tEND", "sudo true"].join("\n");
    expect(await found(script, "OPS-SH-002")).toEqual([]);
    expect(await found(script, "OPS-SH-006")).toEqual([4]);
  });
});
