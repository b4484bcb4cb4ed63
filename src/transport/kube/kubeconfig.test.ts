import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpsError } from "../../errors.ts";
import { defaultKubeconfig, readKubeconfig } from "./index.ts";
import type { LoadedKubeconfig } from "./kubeconfig.ts";

// kubeconfig files read as kubectl reads them; the merge of a KUBECONFIG list
// is checked against `kubectl config view` itself where kubectl is installed.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-kubeconfig-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const failure = async (text: string): Promise<OpsError> => {
  const path = await file(`bad-${crypto.randomUUID().slice(0, 8)}`, text);
  const error = await readKubeconfig(path).catch((e) => e);
  expect(error).toBeInstanceOf(OpsError);
  return error as OpsError;
};

const first = `apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster: { server: "https://first.example:6443", certificate-authority: certs/ca.pem }
- name: only-first
  cluster: { server: "https://only-first.example" }
users:
- name: admin
  user: { client-certificate: certs/admin.pem, client-key: certs/admin.key }
contexts:
- name: prod
  context:
    cluster: shared
    user: admin
    namespace: shop
    extensions:
    - name: opskit
      extension: { labels: { tier: gold } }
current-context: prod
`;

const second = `apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster: { server: "https://second.example:6443" }
- name: only-second
  cluster: { server: "https://only-second.example/" }
users:
- name: admin
  user: { token: from-second }
- name: robot
  user: { tokenFile: /var/run/token }
contexts:
- name: prod
  context: { cluster: only-second, user: robot }
- name: staging
  context: { cluster: only-second, user: robot }
current-context: staging
`;

describe("readKubeconfig", () => {
  test("relative certificate paths are read from the kubeconfig's directory; contexts carry their server and extensions", async () => {
    const config = (await readKubeconfig(await file("first", first))) as LoadedKubeconfig;
    expect(config.currentContext).toBe("prod");
    expect(config.contexts).toEqual([{ name: "prod", cluster: "shared", user: "admin", namespace: "shop", server: "https://first.example:6443", extensions: { opskit: { labels: { tier: "gold" } } } }]);
    expect(config.clusters.get("shared")!.ca).toMatchObject({ file: join(dir, "certs/ca.pem") });
    expect(config.users.get("admin")!.clientKey).toMatchObject({ file: join(dir, "certs/admin.key"), where: expect.stringMatching(/first:10:\d+$/) });
  });

  test("a KUBECONFIG list merges as kubectl merges: the first file to define a name or current-context wins; missing files are skipped", async () => {
    const a = await file("merge-a", first);
    const b = await file("merge-b", second);
    const merged = (await readKubeconfig([a, join(dir, "missing"), b].join(":"))) as LoadedKubeconfig;
    expect(merged.currentContext).toBe("prod");
    expect(merged.contexts.map((c) => [c.name, c.cluster, c.user, c.server])).toEqual([
      ["prod", "shared", "admin", "https://first.example:6443"],
      ["staging", "only-second", "robot", "https://only-second.example"],
    ]);
    expect(merged.users.get("admin")!.token).toBeUndefined();
    expect([...merged.clusters.keys()].sort()).toEqual(["only-first", "only-second", "shared"]);
    const reversed = (await readKubeconfig([b, a].join(":"))) as LoadedKubeconfig;
    expect(reversed.currentContext).toBe("staging");
    expect(reversed.contexts.find((c) => c.name === "prod")).toMatchObject({ cluster: "only-second", user: "robot" });
  });

  test("the merge agrees with kubectl config view", async () => {
    const a = await file("kubectl-a", first);
    const b = await file("kubectl-b", second);
    const child = Bun.spawn(["kubectl", "config", "view", "-o", "json"], { env: { ...process.env, KUBECONFIG: `${a}:${b}` }, stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    expect(code).toBe(0);
    const view = JSON.parse(out) as { "current-context": string; contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[] };
    const ours = await readKubeconfig(`${a}:${b}`);
    expect(ours.currentContext).toBe(view["current-context"]);
    const pick = (c: { name: string; cluster: string; user: string; namespace?: string }) => [c.name, c.cluster, c.user, c.namespace ?? ""];
    expect(ours.contexts.map(pick).sort()).toEqual(view.contexts.map((c) => pick({ name: c.name, ...c.context })).sort());
  });

  test("a single path that does not exist is an error; the default is $KUBECONFIG, else ~/.kube/config", async () => {
    expect(((await readKubeconfig(join(dir, "nope")).catch((e) => e)) as OpsError).code).toBe("E_KUBECONFIG_READ");
    expect(defaultKubeconfig({ env: { KUBECONFIG: "/a:/b" } })).toBe("/a:/b");
    expect(defaultKubeconfig({ env: {}, homeDir: "/home/x" })).toBe("/home/x/.kube/config");
  });

  test("errors name the file, line, column and key, and say how to fix it", async () => {
    const noKey = await failure("clusters:\n- name: c\n  cluster: { server: https://x }\nusers:\n- name: u\n  user:\n    client-certificate: a.pem\n");
    expect(noKey.message).toMatch(/bad-\w+:7:25: users\[0\]\.user\.client-certificate: user "u" has a client-certificate and no client-key/);
    expect(noKey.hint).toContain("needs its key");
    const badData = await failure("clusters:\n- name: c\n  cluster:\n    server: https://x\n    certificate-authority-data: '%%%'\n");
    expect(badData.message).toMatch(/:5:33: clusters\[0\]\.cluster\.certificate-authority-data: is not base64/);
    const dangling = await failure("clusters: []\nusers: []\ncontexts:\n- name: x\n  context: { cluster: gone, user: u }\n");
    expect(dangling.message).toMatch(/:5:23: context "x" names cluster "gone", which no clusters entry defines/);
    const v1 = await failure("users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n");
    expect(v1.message).toContain("users[0].user.exec: interactiveMode is missing");
    expect(v1.hint).toContain("interactiveMode: Never");
    const alpha = await failure("users:\n- name: u\n  user:\n    exec: { apiVersion: client.authentication.k8s.io/v1alpha1, command: aws }\n");
    expect(alpha.hint).toContain("v1alpha1 was removed");
    const twice = await failure("clusters:\n- name: c\n  cluster: { server: https://x }\n- name: c\n  cluster: { server: https://y }\n");
    expect(twice.message).toContain('names "c" a second time');
    const insecure = await failure("clusters:\n- name: c\n  cluster: { server: https://x, insecure-skip-tls-verify: true, certificate-authority: ca.pem }\n");
    expect(insecure.message).toContain("insecure-skip-tls-verify");
    const provider = await failure("users:\n- name: u\n  user:\n    auth-provider: { name: gcp }\n");
    expect(provider.hint).toContain("gke-gcloud-auth-plugin");
    const server = await failure("clusters:\n- name: c\n  cluster: { server: 'ftp://x' }\n");
    expect(server.message).toContain("is not an https:// URL");
  });
});
