import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "./harness/postgres.ts";
import { HA_TOKEN_ENV, startReplicas, type Replica, type ReplicaSet } from "./harness/replicas.ts";
import { alertmanagerNotification, startServe, writeConfig } from "./harness/serve.ts";

// Three `opskit serve` processes on one PostgreSQL journal act as one server:
// a notification that reaches all three makes one incident and one
// remediation; a replica killed mid-remediation has its attempt interrupted
// and retried by another; the checks it ran resume on another; and every
// replica shows the same cluster. Side effects are counted in files the
// runbooks write, one line per execution, naming the replica that ran it.

const WAIT_MS = 45_000;
let db: TestDatabase | undefined;
let set: ReplicaSet | undefined;
let target: ReturnType<typeof Bun.serve> | undefined;
let marks = "";

const outputs = () => set?.replicas.map((r) => r.output()).join("\n") ?? "";
const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);
const live = () => set!.replicas.filter((r) => r.alive());
const get = (replica: Replica, path: string) => replica.process.get(path);

/** Polls until `probe` returns something truthy; throws with the replicas' output after timeoutMs. */
async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}\n${outputs()}`);
    await Bun.sleep(100);
  }
}

const post = (replica: Replica, alertname: string, startsAt: string, labels: Record<string, string> = {}) =>
  replica.process.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname, ...labels }, startsAt }]));

beforeAll(async () => {
  db = await createTestDatabase();
  target = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
  const dir = writeConfig("");
  marks = join(dir, "marks");
  mkdirSync(marks);
  const count = (file: string) => `echo "$INCIDENT $REPLICA" >> ${join(marks, file)}`;
  const env = `env: { INCIDENT: "{{ vars.incident }}", REPLICA: "{{ env.HA_REPLICA }}" }`;
  const exec = (command: string) => `exec: { command: '${command}', ${env} }`;
  writeConfig(
    `
server:
  token: env:${HA_TOKEN_ENV}
workflows:
  once:
    targets: local
    steps:
      - ${exec(count("once"))}
  slow:
    targets: local
    steps:
      # The first attempt hangs (its replica is killed under it); the retry finds the mark and ends.
      - ${exec(`${count("slow")}; if [ -e ${marks}/slow-$INCIDENT ]; then exit 0; fi; touch ${marks}/slow-$INCIDENT; sleep 30`)}
        timeout: 60s
rules:
  - name: once
    match: { alertname: Once }
    run: once
    cooldown: 10m
    vars: { incident: "{{ incident.id }}" }
  - name: slow
    match: { alertname: Slow }
    run: slow
    cooldown: 0s
    maxAttempts: 3
    onInterrupted: retry
    vars: { incident: "{{ incident.id }}" }
  - name: verified
    match: { alertname: Verified }
    run: once
    cooldown: 10m
    verify: { alertResolved: true, timeout: 40s }
    vars: { incident: "{{ incident.id }}" }
checks:
  - name: target-up
    probe: http://127.0.0.1:${target.port}/
    interval: 300ms
`,
    dir,
  );
  set = await startReplicas({ dir, journal: db.url, count: 3 });
}, 120_000);

afterAll(async () => {
  await set?.stop();
  target?.stop(true);
  await db?.drop();
});

describe("three replicas on one PostgreSQL journal", () => {
  test("every replica shows the same cluster: three live replicas, one leader, each check held by exactly one", async () => {
    const views = await waitUntil("every replica to see three live replicas and the check held", async () => {
      const all = await Promise.all(set!.replicas.map((r) => get(r, "/api/v1/cluster")));
      return all.every((v) => v.replicas.length === 3 && v.leader && v.replicas.some((r: any) => r.checks.length > 0)) && all;
    });
    const leaders = new Set(views.map((v: any) => v.leader.id));
    expect(leaders.size).toBe(1);
    for (const [i, view] of views.entries()) {
      expect(view.replica.name).toBe(set!.replicas[i]!.name);
      expect(view.replica.url).toBe(set!.replicas[i]!.url);
      expect(view.replicas.map((r: any) => r.name).sort()).toEqual(["r1", "r2", "r3"]);
      expect(view.replicas.filter((r: any) => r.leader).map((r: any) => r.id)).toEqual([...leaders]);
      expect(view.replicas.flatMap((r: any) => r.checks)).toEqual(["target-up"]);
    }
    // The metrics say the same (as of each replica's last heartbeat): one leader among the three, one owner of the check.
    const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    // A check changes hands when a replica joins (its old owner lets go, the new one takes it at its next heartbeat): wait for that to settle.
    const sum = (all: string[], name: string) => all.map((m) => gauge(m, name)).reduce((a, b) => a + b, 0);
    const metrics = await waitUntil("every replica's metrics to count three replicas and one owner of the check", async () => {
      const all = await Promise.all(set!.replicas.map(async (r) => (await fetch(`${r.url}/metrics`)).text()));
      return all.every((m) => gauge(m, "opskit_cluster_replicas") === 3) && sum(all, "opskit_cluster_checks_owned") === 1 && all;
    });
    expect(sum(metrics, "opskit_cluster_leader")).toBe(1);
    const leaderMetrics = metrics.find((m) => gauge(m, "opskit_cluster_leader") === 1)!;
    expect(gauge(leaderMetrics, "opskit_cluster_epoch")).toBeGreaterThanOrEqual(1);
    // Without the token, refused like the rest of the API.
    expect((await fetch(`${set!.replicas[0]!.url}/api/v1/cluster`)).status).toBe(401);
  }, 60_000);

  test("the same notification posted to all three replicas opens one incident and runs one remediation", async () => {
    const startsAt = new Date(Date.now() - 5_000).toISOString();
    const answers = await Promise.all(set!.replicas.map((r) => post(r, "Once", startsAt)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const r1 = set!.replicas[0]!;
    const incident = await waitUntil("the three notifications applied to one incident", async () => {
      const { incidents } = await get(r1, "/api/v1/incidents?limit=100");
      const once = incidents.filter((i: any) => i.title === "Once");
      return once.length === 1 && once[0].notifications === 3 && once[0];
    });
    const view = await waitUntil("its attempt to succeed", async () => {
      const v = await get(r1, `/api/v1/incidents/${incident.id}`);
      return v.attempts.at(-1)?.status === "succeeded" && v;
    });
    expect(view.attempts.map((a: any) => a.status)).toEqual(["succeeded"]);
    expect(lines(join(marks, "once"))).toHaveLength(1);
    const { incidents } = await get(set!.replicas[2]!, "/api/v1/incidents?limit=100");
    expect(incidents.filter((i: any) => i.title === "Once")).toHaveLength(1);
  }, 60_000);

  test("a verification waits on one replica for a resolve that another replica applies", async () => {
    const startsAt = new Date(Date.now() - 5_000).toISOString();
    const r1 = set!.replicas[0]!;
    expect((await post(r1, "Verified", startsAt)).status).toBe(200);
    const verifying = await waitUntil("the attempt to verify", async () => {
      const { incidents } = await get(r1, "/api/v1/incidents?limit=100");
      const incident = incidents.find((i: any) => i.title === "Verified");
      if (!incident) return undefined;
      const v = await get(r1, `/api/v1/incidents/${incident.id}`);
      return v.attempts[0]?.status === "verifying" && v;
    });
    const cluster = await get(r1, "/api/v1/cluster");
    const runner = cluster.replicas.find((r: any) => r.id === verifying.attempts[0].owner).name as string;
    // The resolve goes to the other two replicas only.
    const others = set!.replicas.filter((r) => r.name !== runner);
    const body = alertmanagerNotification([{ labels: { alertname: "Verified" }, status: "resolved", startsAt }]);
    for (const other of others) expect((await other.process.post("/api/v1/alerts/alertmanager", body)).status).toBe(200);
    const done = await waitUntil("the verification to succeed", async () => {
      const v = await get(r1, `/api/v1/incidents/${verifying.incident.id}`);
      return v.attempts[0]?.status !== "verifying" && v;
    });
    expect(done.attempts.map((a: any) => a.status)).toEqual(["succeeded"]);
    expect(done.incident).toMatchObject({ status: "resolved", resolution: "alert resolved" });
    expect(done.incident.milestones.verified).toBeDefined();
  }, 60_000);

  test("a replica SIGKILLed mid-remediation: its run and attempt are marked interrupted and another replica retries it", async () => {
    const startsAt = new Date(Date.now() - 5_000).toISOString();
    expect((await post(set!.replicas[0]!, "Slow", startsAt)).status).toBe(200);
    const r1 = set!.replicas[0]!;
    const running = await waitUntil("the first attempt to run", async () => {
      const { incidents } = await get(r1, "/api/v1/incidents?limit=100");
      const slow = incidents.find((i: any) => i.title === "Slow");
      if (!slow) return undefined;
      const v = await get(r1, `/api/v1/incidents/${slow.id}`);
      return v.attempts[0]?.status === "running" && lines(join(marks, "slow")).length === 1 && v;
    });
    const owner = running.attempts[0].owner as string;
    const cluster = await get(r1, "/api/v1/cluster");
    const name = cluster.replicas.find((r: any) => r.id === owner)?.name as string;
    expect(lines(join(marks, "slow"))).toEqual([`${running.incident.id} ${name}`]);
    const victim = set!.replicas.find((r) => r.name === name)!;
    const killedAt = Date.now();
    await victim.kill();
    const witness = live()[0]!;
    const done = await waitUntil("the retry to succeed on another replica", async () => {
      const v = await get(witness, `/api/v1/incidents/${running.incident.id}`);
      return v.attempts.at(-1)?.status === "succeeded" && v;
    });
    expect(done.attempts.map((a: any) => a.status)).toEqual(["interrupted", "succeeded"]);
    expect(done.attempts[0].detail).toBe(`replica ${name} stopped during this attempt`);
    expect(done.attempts[1].owner).not.toBe(owner);
    const effects = lines(join(marks, "slow"));
    expect(effects).toHaveLength(2);
    expect(effects[1]).not.toBe(`${running.incident.id} ${name}`);
    expect(done.events.map((e: any) => e.message).join("\n")).toContain(`attempt 1 interrupted: replica ${name} stopped during it; a new attempt may run (onInterrupted: retry)`);
    const cut = await get(witness, `/api/v1/runs/${done.attempts[0].runId}`);
    expect(cut.run.status).toBe("interrupted");
    console.log(`takeover: attempt 1 interrupted ${done.attempts[0].finishedAt - killedAt} ms after the SIGKILL`);
    const after = await waitUntil("the cluster to show two replicas", async () => {
      const v = await get(witness, "/api/v1/cluster");
      return v.replicas.length === 2 && v.leader && v;
    });
    expect(after.replicas.map((r: any) => r.name).sort()).toEqual(live().map((r) => r.name).sort());
    // Started again under its name, it joins again.
    await victim.restart();
    await waitUntil("the cluster to show three replicas again", async () => (await get(witness, "/api/v1/cluster")).replicas.length === 3);
  }, 90_000);

  test("a replica SIGKILLed while it runs a check: the check resumes on another replica", async () => {
    // After the earlier tests' kills and restarts the check may still be moving to its
    // rendezvous owner: wait until one replica says it holds it and has run it.
    const owner = await waitUntil("a replica to hold the check and have run it", async () => {
      for (const replica of live()) {
        const check = (await get(replica, "/api/v1/checks")).checks.find((c: any) => c.name === "target-up");
        if (check.owned && check.status === "passing") return replica;
      }
      return undefined;
    });
    const ownerName = owner.name;
    const view = await get(owner, "/api/v1/cluster");
    expect(view.replicas.find((r: any) => r.name === ownerName)?.checks).toContain("target-up");
    const killedAt = Date.now();
    await owner.kill();
    const resumed = await waitUntil("another replica to run the check", async () => {
      for (const replica of live()) {
        const check = (await get(replica, "/api/v1/checks")).checks.find((c: any) => c.name === "target-up");
        if (check.owned && check.lastRunAt > killedAt) return { replica: replica.name, check };
      }
      return undefined;
    });
    expect(resumed.replica).not.toBe(ownerName);
    expect(resumed.check.status).toBe("passing");
    console.log(`checks: target-up ran on ${resumed.replica} ${resumed.check.lastRunAt - killedAt} ms after ${ownerName} was killed`);
    // Exactly one replica runs it.
    const owners = [];
    for (const replica of live()) if ((await get(replica, "/api/v1/checks")).checks.find((c: any) => c.name === "target-up").owned) owners.push(replica.name);
    expect(owners).toEqual([resumed.replica]);
  }, 60_000);
});

describe("two replicas on one SQLite file", () => {
  test("one notification sent to both makes one incident and one run; when one is killed the other leads", async () => {
    const dir = writeConfig("");
    const effects = join(dir, "effects");
    writeConfig(
      `
server: { token: "env:${HA_TOKEN_ENV}" }
workflows:
  fix:
    targets: local
    steps:
      - exec: "echo ran >> ${effects}"
rules:
  - name: fix
    match: { alertname: Broken }
    run: fix
    cooldown: 10m
`,
      dir,
    );
    const token = "two-processes-one-file-token";
    const start = (name: string) => startServe(dir, { env: { [HA_TOKEN_ENV]: token }, token, args: ["--replica", name] });
    const a = await start("a");
    const b = await start("b").catch(async (error: unknown) => {
      await a.kill();
      throw error;
    });
    try {
      const body = alertmanagerNotification([{ labels: { alertname: "Broken" }, startsAt: new Date(Date.now() - 1000).toISOString() }]);
      expect((await a.post("/api/v1/alerts/alertmanager", body)).status).toBe(200);
      expect((await b.post("/api/v1/alerts/alertmanager", body)).status).toBe(200);
      const view = await a.waitFor("/api/v1/incidents/1", (v) => v.incident?.notifications === 2 && v.attempts[0]?.status === "succeeded" && v);
      expect(view.attempts).toHaveLength(1);
      expect((await b.get("/api/v1/incidents")).total).toBe(1);
      expect(lines(effects)).toEqual(["ran"]);
      const both = await b.waitFor("/api/v1/cluster", (v) => v.replicas.length === 2 && v);
      expect(both.replicas.filter((r: any) => r.leader)).toHaveLength(1);
      await a.kill();
      const alone = await b.waitFor("/api/v1/cluster", (v) => v.replicas.length === 1 && v.leader && v, 30_000);
      expect(alone.leader.name).toBe("b");
    } finally {
      await a.kill();
      await b.stop();
    }
  }, 60_000);
});
