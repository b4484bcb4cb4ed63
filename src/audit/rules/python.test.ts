import { describe, expect, test } from "bun:test";
import { registry, type AuditContext } from "../index.ts";

const context: AuditContext = { stepTimeoutOf: () => undefined };

/** Lines (1-based) of the snippet on which the rule fires. */
async function found(text: string, rule: string): Promise<number[]> {
  const lines: number[] = [];
  for (const set of registry.python) {
    for (const hit of await set.check({ path: "/x/t.py", display: "t.py", language: "python", text }, context)) if (hit.rule === rule) lines.push(hit.line);
  }
  return lines.sort((a, b) => a - b);
}

describe("OPS-PY-001 shell command built from data", () => {
  test("f-strings, %, +, .format() and variables with shell=True, os.system and aliases are found", async () => {
    const code = [
      "import subprocess",
      "import subprocess as sp",
      "import os",
      "from subprocess import Popen as P",
      'subprocess.run(f"ssh {host} uptime", shell=True)',
      'subprocess.call("ssh %s uptime" % host, shell=True)',
      'sp.check_output("ls " + path, shell=True)',
      'subprocess.run("restart {}".format(unit), shell=True)',
      "subprocess.Popen(cmd, shell=True)",
      "os.system(command)",
      "P(args=cmd, shell=True)",
      "subprocess.run(",
      '    f"rm -rf {path}",',
      "    shell=True,",
      ")",
    ].join("\n");
    expect(await found(code, "OPS-PY-001")).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
  });

  test("literal commands, lists without a shell, shell=False and words in strings and comments are not", async () => {
    const code = [
      "import subprocess, os",
      'subprocess.run("systemctl daemon-reload", shell=True)',
      'subprocess.run(["ssh", host, "uptime"])',
      "subprocess.run(cmd)",
      "subprocess.run(cmd, shell=False)",
      'os.system("sync")',
      '"""subprocess.run(cmd, shell=True)"""',
      "# os.system(cmd)",
      "run(cmd, shell=True)",
    ].join("\n");
    expect(await found(code, "OPS-PY-001")).toEqual([]);
  });
});

describe("OPS-PY-002 TLS verification disabled", () => {
  test("verify=False as a keyword or an attribute is found; True, a CA path, a comparison and a comment are not", async () => {
    expect(await found("requests.get(url, verify=False)\nsession.verify = False", "OPS-PY-002")).toEqual([1, 2]);
    expect(await found('requests.get(url, verify=True)\nrequests.get(url, verify="/etc/ca.pem")\nif verify == False: pass\n# verify=False', "OPS-PY-002")).toEqual([]);
  });
});

describe("OPS-PY-003 yaml.load without a safe loader", () => {
  test("the default, Full and unsafe loaders, positional or keyword, and load imported by name are found", async () => {
    const code = ["import yaml", "yaml.load(f)", "yaml.load(f, Loader=yaml.Loader)", "yaml.load(f, yaml.FullLoader)", "yaml.unsafe_load(f)", "from yaml import load", "load(f)"].join("\n");
    expect(await found(code, "OPS-PY-003")).toEqual([2, 3, 4, 5, 7]);
  });

  test("safe_load and the Safe, CSafe and Base loaders are not, nor json.load", async () => {
    const code = ["import yaml, json", "yaml.safe_load(f)", "yaml.load(f, Loader=yaml.SafeLoader)", "yaml.load(f, Loader=CSafeLoader)", "yaml.load(f, yaml.BaseLoader)", "json.load(f)"].join("\n");
    expect(await found(code, "OPS-PY-003")).toEqual([]);
  });
});

describe("secrets in Python", () => {
  test("literal passwords and tokens in assignments, keywords and dict entries are found", async () => {
    const code = ['password = "hunter22"', 'db.connect(host, password="hunter22")', 'auth = {"api_token": "abc123def456"}', 'self.token = "ghp_x8Kq2LmN7pR4tV9wY3zB6cD1fH5jS0aE2gU8"'].join("\n");
    expect(await found(code, "OPS-SEC-003")).toEqual([1, 2, 3, 4]);
  });

  test("a random-looking value in a *_KEY name is found", async () => {
    expect(await found('AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Kt3pLx1"', "OPS-SEC-004")).toEqual([1]);
  });

  test("values from the environment, input, empty strings, comparisons and f-strings are not", async () => {
    const code = ['password = os.environ["DB_PASSWORD"]', 'password = ""', 'password = input("Password: ")', 'if password == "hunter22": pass', 'token = f"{prefix}-abcdef"', 'PASSWORD_PROMPT = "Enter your password"'].join("\n");
    expect(await found(code, "OPS-SEC-003")).toEqual([]);
    expect(await found(code, "OPS-SEC-004")).toEqual([]);
  });
});
