import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestCa } from "./harness/certs.ts";
import { repoRoot, runOpskit } from "./harness/cli.ts";
import { b64, startEtcdCluster, type EtcdCluster } from "./harness/etcd.ts";
import { hostileValues, pwnedMarker } from "./harness/hostile.ts";
import { startServe, type ServeProcess } from "./harness/serve.ts";

// The shipped runbook (examples/etcd) against a real three-member etcd
// cluster: fragmented on purpose, its check fires, the rule defragments it
// under a writer that never stops. Figures (sizes, order, the writer's
// longest stall) are printed, never asserted on.

const MiB = 1024 * 1024;
const VALUE_BYTES = 1_000_000;

/** The example as shipped, pointed at a test cluster by an environment overlay of vars; the check looks every second instead of every 30. */
function exampleConfig(cluster: EtcdCluster, quotaBytes: number, maxFreeBytes: number): string {
  const example = readFileSync(join(repoRoot, "examples/etcd/opskit.yaml"), "utf8");
  expect(example).toContain("    interval: 30s\n");
  const overlay = {
    environments: {
      test: {
        vars: {
          etcd_endpoints: cluster.endpoints,
          etcd_endpoint: cluster.endpoints[0]!.replace("http://", ""),
          etcd_quota_bytes: quotaBytes,
          max_free_bytes: maxFreeBytes,
        },
      },
    },
  };
  return `${example.replace("    interval: 30s\n", "    interval: 1s\n")}\nenvironments: ${JSON.stringify(overlay.environments)}\n`;
}

async function put(cluster: EtcdCluster, endpoint: string, key: string, value: string | Buffer): Promise<void> {
  const answer = await cluster.call(endpoint, "/v3/kv/put", { key: b64(key), value: Buffer.from(value).toString("base64") }, 20_000);
  if (answer.status !== 200) throw new Error(`put ${key}: ${answer.status} ${JSON.stringify(answer.body)}`);
}

/** Writes `count` values of ~1 MB under `prefix`, deletes them, and compacts (as the Kubernetes API server does every 5 minutes): the space is free but the file keeps it. */
async function fragment(cluster: EtcdCluster, prefix: string, count: number): Promise<void> {
  const value = randomBytes(VALUE_BYTES);
  for (let i = 0; i < count; i++) await put(cluster, cluster.endpoints[i % cluster.endpoints.length]!, `${prefix}/${i}`, value);
  await deletePrefix(cluster, prefix);
  await compact(cluster);
}

async function deletePrefix(cluster: EtcdCluster, prefix: string): Promise<void> {
  const answer = await cluster.call(cluster.endpoints[0]!, "/v3/kv/deleterange", { key: b64(`${prefix}/`), range_end: b64(`${prefix}0`) }, 20_000);
  expect(answer.status).toBe(200);
}

async function compact(cluster: EtcdCluster): Promise<number> {
  const revision = Number((await cluster.status(cluster.endpoints[0]!)).header.revision);
  const answer = await cluster.call(cluster.endpoints[0]!, "/v3/kv/compaction", { revision: String(revision), physical: true }, 60_000);
  expect(answer.status).toBe(200);
  return revision;
}

async function sizes(cluster: EtcdCluster, members = cluster.members): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const member of members) out[member.name] = Number((await cluster.status(member.clientUrl)).dbSize);
  return out;
}

/** Each member's dbSize once it stops changing: members apply and commit writes on their own time (bbolt commits every 100 ms). */
async function settledSizes(cluster: EtcdCluster, members = cluster.members): Promise<Record<string, number>> {
  let last = "";
  for (let i = 0; i < 50; i++) {
    const now = await sizes(cluster, members);
    if (JSON.stringify(now) === last) return now;
    last = JSON.stringify(now);
    await Bun.sleep(300);
  }
  throw new Error(`member sizes kept changing: ${last}`);
}

async function alarmList(cluster: EtcdCluster): Promise<{ memberID: string; alarm: string }[]> {
  const answer = await cluster.call(cluster.endpoints[0]!, "/v3/maintenance/alarm", { action: "GET" });
  expect(answer.status).toBe(200);
  return answer.body.alarms ?? [];
}

/**
 * A client writing a key every ~20 ms through the gateway, as a client
 * library would: one member after another, and on to the next when one
 * does not answer within 2 s. The longest gap between two acknowledged
 * writes is the longest time the cluster was not writable for it.
 */
function startWriter(cluster: EtcdCluster, everyMs = 20) {
  let stopping = false;
  const acknowledged: number[] = [];
  const failures: string[] = [];
  let failovers = 0;
  let failed = 0;
  let n = 0;
  const loop = (async () => {
    while (!stopping) {
      const started = performance.now();
      let ok = false;
      for (let attempt = 0; attempt < cluster.endpoints.length && !ok; attempt++) {
        const endpoint = cluster.endpoints[(n + attempt) % cluster.endpoints.length]!;
        try {
          const answer = await cluster.call(endpoint, "/v3/kv/put", { key: b64(`writer/${n % 100}`), value: b64(String(n)) }, 2_000);
          if (answer.status === 200) ok = true;
          else failures.push(`${endpoint}: ${answer.status} ${JSON.stringify(answer.body)}`);
        } catch (error) {
          failures.push(`${endpoint}: ${(error as Error).message}`);
        }
        if (!ok) failovers++;
      }
      n++;
      if (ok) acknowledged.push(performance.now());
      else failed++;
      const wait = everyMs - (performance.now() - started);
      if (wait > 0) await Bun.sleep(wait);
    }
  })();
  return {
    /** Writes acknowledged between two performance.now() times. */
    acknowledgedBetween: (from: number, to: number) => acknowledged.filter((t) => t >= from && t <= to).length,
    async stop() {
      stopping = true;
      await loop;
      let longestStallMs = 0;
      let stallEndedAt = 0;
      for (let i = 1; i < acknowledged.length; i++) {
        const gap = acknowledged[i]! - acknowledged[i - 1]!;
        if (gap > longestStallMs) {
          longestStallMs = gap;
          stallEndedAt = acknowledged[i]!;
        }
      }
      return { writes: acknowledged.length, failed, failovers, failures, longestStallMs, stallEndedAt };
    },
  };
}

/** Which member leads, looked at every 50 ms: the test's own record to check the run's order against. */
function watchLeader(cluster: EtcdCluster) {
  let stopping = false;
  const seen: { at: number; leader: string }[] = [];
  const loop = (async () => {
    while (!stopping) {
      for (const endpoint of cluster.endpoints) {
        try {
          const status = await cluster.status(endpoint);
          if (status.leader && status.leader !== "0") {
            seen.push({ at: Date.now(), leader: status.leader });
            break;
          }
        } catch {
          // another member answers
        }
      }
      await Bun.sleep(50);
    }
  })();
  return {
    /** The leader's id as last seen at or before `at` (epoch ms). */
    leaderAt: (at: number) => seen.filter((s) => s.at <= at).at(-1)?.leader,
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

async function journaledStep(journalFile: string, runId: string, name: string) {
  const { openJournal } = await import("../src/journal/index.ts");
  const journal = await openJournal(journalFile);
  try {
    const step = (await journal.stepProgress(runId)).find((p) => p.phase === "main" && p.name === name)?.result;
    if (!step) throw new Error(`run ${runId} has no step ${name} in the journal`);
    return step as typeof step & { data: Record<string, any> };
  } finally {
    await journal.close();
  }
}

const mib = (bytes: number) => (bytes < MiB ? `${Math.round(bytes / 1024)} KiB` : `${(bytes / MiB).toFixed(1)} MiB`);

test("examples/etcd validates as shipped", async () => {
  const run = await runOpskit(["validate", "-c", "examples/etcd"]);
  expect(run.stderr).toBe("");
  expect(run.stdout).toMatch(/^ok: 0 hosts, 1 workflow, 1 rule, 1 check /);
});

describe("examples/etcd on a real three-member cluster", () => {
  let cluster: EtcdCluster;
  let server: ServeProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    cluster = await startEtcdCluster({ quotaBytes: 64 * MiB, prefix: "main" });
    dir = mkdtempSync(join(tmpdir(), "opskit-etcd-serve-"));
  });
  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    "a fragmented cluster: the check fires, the rule defragments every member one at a time with the leader last, and a writer keeps writing throughout",
    async () => {
      writeFileSync(join(dir, "opskit.yaml"), exampleConfig(cluster, 64 * MiB, 16 * MiB));
      const validate = await runOpskit(["validate", "-c", dir, "--env", "test"]);
      expect(validate.stderr).toBe("");
      const writer = startWriter(cluster);
      const leader = watchLeader(cluster);
      server = await startServe(dir, { args: ["--env", "test"] });
      await server.waitFor("/api/v1/checks", (v) => v.checks.find((c: any) => c.name === "etcd-fragmentation" && c.status === "passing"), 30_000);

      // Hostile keys and values are data to etcd and to opskit: they come through intact.
      const hostile = hostileValues.filter((h) => h.value.length < 4096);
      for (const [i, h] of hostile.entries()) await put(cluster, cluster.endpoints[0]!, `hostile/${i}/${h.value}`, h.value);
      // 8 MB that stays (a defragmentation copies it: its cost), 32 MB written and deleted (what it gives back).
      const live = randomBytes(VALUE_BYTES);
      for (let i = 0; i < 8; i++) await put(cluster, cluster.endpoints[i % 3]!, `live/${i}`, live);
      await fragment(cluster, "bulk", 32);
      const fragmented = await sizes(cluster);

      const incident = await server.waitFor("/api/v1/incidents", (v) => v.incidents.find((i: any) => i.labels.alertname === "EtcdFragmented"), 60_000);
      const runStartedAt = performance.now();
      const view = await server.waitFor(`/api/v1/incidents/${incident.id}`, (v) => v.incident.status === "resolved" && v, 180_000);
      const runEndedAt = performance.now();
      const stats = await writer.stop();
      await leader.stop();
      const after = await sizes(cluster);

      expect(view.incident).toMatchObject({ automated: true, resolution: "alert resolved" });
      const runId = view.attempts[0].runId;
      const run = await server.get(`/api/v1/runs/${runId}`);
      expect(run.run.status).toBe("succeeded");
      expect(run.steps.filter((s: any) => s.phase === "main").map((s: any) => [s.name, s.status])).toEqual([
        ["before", "ok"],
        ["defrag", "changed"],
        ["after", "ok"],
      ]);
      // The step's data as the journal keeps it.
      await server.stop();
      server = undefined;
      const defrag = await journaledStep(join(dir, "journal.db"), runId, "defrag");
      const data = defrag.data!;

      // Every member defragmented once, and each shrank.
      const records: any[] = data.defragmented;
      expect(records.map((r) => r.name).sort()).toEqual(cluster.members.map((m) => m.name).sort());
      expect(data.order).toEqual(records.map((r) => r.name));
      for (const record of records) expect(record.after.dbSize).toBeLessThan(record.before.dbSize);
      for (const member of cluster.members) expect(after[member.name]!).toBeLessThan(fragmented[member.name]!);

      // The leader went last: when each follower's turn came, another member led;
      // the last one led when its turn came, and handed leadership to a defragmented follower first.
      const last = records.at(-1)!;
      for (const record of records.slice(0, -1)) {
        expect(record.role).toBe("follower");
        expect(record.id).not.toBe(record.leaderId);
        expect(leader.leaderAt(Date.parse(record.turnAt))).not.toBe(record.id);
      }
      expect(last.role).toBe("former leader");
      expect(last.id).toBe(last.leaderId);
      expect(leader.leaderAt(Date.parse(last.turnAt))).toBe(last.id);
      expect(data.movedLeader.from).toBe(last.name);
      expect(records.slice(0, -1).map((r) => r.name)).toContain(data.movedLeader.to);
      // The step's output tells the same story, in the same order.
      const lines = defrag.stdout.split("\n").filter((l: string) => l.startsWith("defragmenting "));
      expect(lines.map((l: string) => l.split(" ")[1])).toEqual(data.order);

      // The writer never found the cluster unwritable, and wrote all through the run.
      expect(stats.failed).toBe(0);
      expect(writer.acknowledgedBetween(runStartedAt, runEndedAt)).toBeGreaterThan(0);

      for (const [i, h] of hostile.entries()) {
        const answer = await cluster.call(cluster.endpoints[1]!, "/v3/kv/range", { key: b64(`hostile/${i}/${h.value}`) });
        expect(answer.body.kvs).toHaveLength(1);
        // Byte for byte as written (a lone surrogate was written as UTF-8's replacement character); the gateway leaves an empty value out.
        expect(Buffer.from(answer.body.kvs[0].value ?? "", "base64").equals(Buffer.from(h.value, "utf8"))).toBe(true);
      }
      expect(existsSync(pwnedMarker)).toBe(false);

      const figures = [
        "etcd defragmentation, examples/etcd on a three-member etcd 3.4 cluster (quota 64 MiB; 8 MB kept, 32 MB written, deleted and compacted away):",
        ...records.map((r) => `  ${r.name} (${r.role}): ${mib(r.before.dbSize)} -> ${mib(r.after.dbSize)}, defragmented in ${Math.round(r.defragMs)} ms, healthy ${Math.round(r.healthyAfterMs)} ms later`),
        `  order: ${data.order.join(", ")} (leadership moved ${data.movedLeader.from} -> ${data.movedLeader.to} before ${data.movedLeader.from}'s turn)`,
        `  writer: ${stats.writes} writes acknowledged every ~20 ms, ${stats.failed} failed, ${stats.failovers} retried on another member; longest stall ${Math.round(stats.longestStallMs)} ms`,
      ];
      console.log(figures.join("\n"));
    },
    300_000,
  );
});

/** The hostile values that fit one argument of a command line (the 100,000-character one does not), given with --var-json. */
const argvHostile = hostileValues.filter((h) => h.value.length < 100_000);

/** Runs a workflow with `opskit run --json`; its exit code and each step's finished event by step name. */
async function runWorkflow(dir: string, workflow: string, args: string[] = []) {
  const run = await runOpskit(["run", "-c", dir, workflow, "--json", "--journal", join(dir, "journal.db"), ...args], { timeoutMs: 120_000 });
  const events = run.stdout
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, any>);
  const steps = new Map(events.filter((e) => e.type === "step.finished").map((e) => [e.name as string, e]));
  return { ...run, steps };
}

describe("the etcd action's operations and refusals on a real three-member cluster with a 16 MiB quota", () => {
  let cluster: EtcdCluster;
  let dir: string;
  let adHoc: string;

  beforeAll(async () => {
    cluster = await startEtcdCluster({ quotaBytes: 16 * MiB, prefix: "small" });
    dir = mkdtempSync(join(tmpdir(), "opskit-etcd-run-"));
    writeFileSync(join(dir, "opskit.yaml"), exampleConfig(cluster, 16 * MiB, 4 * MiB));
    adHoc = mkdtempSync(join(tmpdir(), "opskit-etcd-adhoc-"));
    const step = (body: string) => `      - etcd: { endpoints: "{{ vars.endpoints }}", quotaBytes: ${16 * MiB}, ${body} }\n`;
    const hostileSteps = (field: (i: number) => string) => argvHostile.map((_, i) => `      - name: h${i}\n        continueOnError: true\n        etcd: ${field(i)}\n`).join("");
    writeFileSync(
      join(adHoc, "opskit.yaml"),
      [
        `vars: { endpoints: ${JSON.stringify(cluster.endpoints)} }`,
        "workflows:",
        "  disarm:\n    steps:\n" + step("alarm: disarm"),
        "  alarms:\n    steps:\n" + step("alarm: list"),
        "  compact:\n    steps:\n" + step("compact: {}"),
        "  move-leader:\n    steps:\n" + step('moveLeader: { to: "{{ vars.to }}" }'),
        "  move-leader-anywhere:\n    steps:\n" + step("moveLeader: {}"),
        "  defrag:\n    steps:\n" + step("defrag: { moveLeader: false, pause: 0s }"),
        "  hostile-leader:\n    steps:\n" + hostileSteps((i) => `{ endpoints: "{{ vars.endpoints }}", moveLeader: { to: "{{ vars.hostile[${i}] }}" } }`),
        "  hostile-endpoints:\n    steps:\n" + hostileSteps((i) => `{ endpoints: "{{ vars.hostile[${i}] }}", status: {} }`),
        "",
      ].join("\n"),
    );
  });
  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(adHoc, { recursive: true, force: true });
  });

  test(
    "with a member down the defrag refuses to start, naming it, and neither compacts nor defragments anything",
    async () => {
      await put(cluster, cluster.endpoints[0]!, "kept", "before the deletes");
      const oldRevision = Number((await cluster.status(cluster.endpoints[0]!)).header.revision);
      const value = randomBytes(VALUE_BYTES);
      for (let i = 0; i < 6; i++) await put(cluster, cluster.endpoints[0]!, `bulk/${i}`, value);
      await deletePrefix(cluster, "bulk");
      const down = cluster.members[1]!;
      await cluster.stopMember(down.name);
      const live = cluster.members.filter((m) => m !== down);
      const before = await settledSizes(cluster, live);
      try {
        const run = await runWorkflow(dir, "etcd-defrag", ["--env", "test"]);
        expect(run.code).toBe(2);
        const defrag = run.steps.get("defrag")!;
        expect(defrag.status).toBe("failed");
        expect(defrag.result.error.code).toBe("E_ETCD_UNHEALTHY");
        expect(defrag.result.error.message).toContain("so nothing was compacted or defragmented");
        expect(defrag.result.error.message).toContain(`no endpoint answered as ${down.name}`);
        expect(defrag.result.data.order).toEqual([]);
        expect(defrag.result.data.compactedRevision).toBeUndefined();
        expect(run.steps.has("after")).toBe(false);

        // Nothing compacted: the old revision is still readable. Nothing defragmented: the sizes stand.
        const old = await cluster.call(live[0]!.clientUrl, "/v3/kv/range", { key: b64("kept"), revision: String(oldRevision) });
        expect(old.status).toBe(200);
        expect(await settledSizes(cluster, live)).toEqual(before);
      } finally {
        await cluster.startMember(down.name);
      }
    },
    120_000,
  );

  test(
    "NOSPACE is disarmed only once every member is below the threshold, and the leader is defragmented last",
    async () => {
      const value = randomBytes(VALUE_BYTES);
      let full = false;
      for (let i = 0; i < 40 && !full; i++) {
        const answer = await cluster.call(cluster.endpoints[0]!, "/v3/kv/put", { key: b64(`fill/${i}`), value: value.toString("base64") }, 20_000);
        full = answer.status !== 200 && /database space exceeded/.test(JSON.stringify(answer.body));
        if (answer.status !== 200 && !full) throw new Error(`put: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
      expect(full).toBe(true);
      expect((await alarmList(cluster)).some((a) => a.alarm === "NOSPACE")).toBe(true);
      const listed = await runWorkflow(adHoc, "alarms");
      expect(listed.code).toBe(0);
      const alarms: { member: string; alarm: string }[] = listed.steps.get("etcd-1")!.result.data.alarms;
      expect(alarms.length).toBeGreaterThan(0);
      for (const alarm of alarms) {
        expect(alarm.alarm).toBe("NOSPACE");
        expect(cluster.members.map((m) => m.name)).toContain(alarm.member);
      }
      await deletePrefix(cluster, "fill");
      await compact(cluster);

      const names = cluster.members.map((m) => m.name);
      const refused = await runWorkflow(adHoc, "disarm");
      expect(refused.code).toBe(2);
      const first = refused.steps.get("etcd-1")!.result.error;
      expect(first.code).toBe("E_ETCD_NOSPACE_KEPT");
      for (const name of names) expect(first.message).toContain(`${name} is at`);
      expect((await alarmList(cluster)).some((a) => a.alarm === "NOSPACE")).toBe(true);

      // One member defragmented by hand: it is under the threshold, the other two are not.
      const [done, ...others] = cluster.members;
      expect((await cluster.call(done!.clientUrl, "/v3/maintenance/defragment", {}, 60_000)).status).toBe(200);
      const again = await runWorkflow(adHoc, "disarm");
      expect(again.code).toBe(2);
      const second = again.steps.get("etcd-1")!.result.error;
      expect(second.code).toBe("E_ETCD_NOSPACE_KEPT");
      expect(second.message).not.toContain(`${done!.name} is at`);
      for (const m of others) expect(second.message).toContain(`${m.name} is at`);
      expect((await alarmList(cluster)).some((a) => a.alarm === "NOSPACE")).toBe(true);

      const leaderBefore = await cluster.leaderName();
      const defrag = await runWorkflow(adHoc, "defrag");
      expect(defrag.code).toBe(0);
      const data = defrag.steps.get("etcd-1")!.result.data;
      expect(data.disarmed.length).toBeGreaterThan(0);
      expect(await alarmList(cluster)).toEqual([]);
      await put(cluster, cluster.endpoints[2]!, "writable", "again");
      // Without moveLeader the leader's own turn is last.
      expect(data.defragmented.map((r: any) => r.role)).toEqual(["follower", "follower", "leader"]);
      expect(data.order.at(-1)).toBe(leaderBefore);
      expect(data.movedLeader).toBeUndefined();
    },
    180_000,
  );

  test(
    "compact compacts to the current revision; moveLeader hands leadership to the named member, or to the most caught-up follower",
    async () => {
      await put(cluster, cluster.endpoints[0]!, "compact/me", "1");
      const revision = Number((await cluster.status(cluster.endpoints[0]!)).header.revision);
      await put(cluster, cluster.endpoints[0]!, "compact/me", "2");
      const compacted = await runWorkflow(adHoc, "compact");
      expect(compacted.code).toBe(0);
      expect(compacted.steps.get("etcd-1")!.result.data).toMatchObject({ compacted: true, revision: revision + 1 });
      const old = await cluster.call(cluster.endpoints[1]!, "/v3/kv/range", { key: b64("compact/me"), revision: String(revision) });
      expect(JSON.stringify(old.body)).toContain("required revision has been compacted");
      const again = await runWorkflow(adHoc, "compact");
      expect(again.steps.get("etcd-1")!.result.data.compacted).toBe(false);

      const leader = await cluster.leaderName();
      const named = cluster.members.find((m) => m.name !== leader)!.name;
      const moved = await runWorkflow(adHoc, "move-leader", ["--var", `to=${named}`]);
      expect(moved.code).toBe(0);
      expect(moved.steps.get("etcd-1")!.result.data).toMatchObject({ from: leader, to: named });
      expect(await cluster.leaderName()).toBe(named);
      const stays = await runWorkflow(adHoc, "move-leader", ["--var", `to=${named}`]);
      expect(stays.steps.get("etcd-1")!.status).toBe("ok");
      const anywhere = await runWorkflow(adHoc, "move-leader-anywhere");
      expect(anywhere.code).toBe(0);
      const to = anywhere.steps.get("etcd-1")!.result.data.to;
      expect(to).not.toBe(named);
      expect(await cluster.leaderName()).toBe(to);
    },
    120_000,
  );

  test(
    "hostile values reach the etcd action as data: a member name matched as text, an endpoint refused unless it is a client URL",
    async () => {
      const leader = await cluster.leaderName();
      const hostile = JSON.stringify(argvHostile.map((h) => h.value));
      // Every step continues on error, so the run succeeds; each step's own result is what counts.
      const move = await runWorkflow(adHoc, "hostile-leader", ["--var-json", `hostile=${hostile}`]);
      expect(move.code).toBe(0);
      argvHostile.forEach((h, i) => {
        const step = move.steps.get(`h${i}`)!;
        expect(step.status).toBe("failed");
        expect(step.result.error.code).toBe("E_ETCD_MEMBER");
        // The value itself, quoted (and cut short), as the name that no member has.
        const shown = h.value.length > 60 ? `${h.value.slice(0, 57)}...` : h.value;
        expect(step.result.error.message).toBe(`no member named ${JSON.stringify(shown)}`);
      });
      expect(await cluster.leaderName()).toBe(leader);

      const endpoints = await runWorkflow(adHoc, "hostile-endpoints", ["--var-json", `hostile=${hostile}`]);
      expect(endpoints.code).toBe(0);
      argvHostile.forEach((_, i) => {
        const step = endpoints.steps.get(`h${i}`)!;
        expect(step.status).toBe("failed");
        expect(step.result.error.code).toBe("E_ETCD_ENDPOINT");
      });
      expect(existsSync(pwnedMarker)).toBe(false);
    },
    120_000,
  );

  test(
    "as an etcd user: the password from a secret reference, the gateway's token per member; a wrong password fails saying so; the password is never printed",
    async () => {
      const password = `pw-${randomBytes(8).toString("hex")}`;
      await cluster.enableAuth(password);
      writeFileSync(
        join(adHoc, "auth.yaml"),
        [
          `vars: { endpoints: ${JSON.stringify(cluster.endpoints)} }`,
          "workflows:",
          `  status:\n    steps:\n      - etcd: { endpoints: "{{ vars.endpoints }}", username: root, password: env:ETCD_TEST_PASSWORD, status: {} }`,
          `  defrag:\n    steps:\n      - etcd: { endpoints: "{{ vars.endpoints }}", username: env:ETCD_TEST_USER, password: file:${join(adHoc, "password")}, defrag: { pause: 0s } }`,
          `  wrong:\n    steps:\n      - etcd: { endpoints: "{{ vars.endpoints }}", username: root, password: env:ETCD_WRONG_PASSWORD, status: {} }`,
          `  anonymous:\n    steps:\n      - etcd: { endpoints: "{{ vars.endpoints }}", status: {} }`,
          "",
        ].join("\n"),
      );
      writeFileSync(join(adHoc, "password"), `${password}\n`);
      const env = { ETCD_TEST_PASSWORD: password, ETCD_TEST_USER: "root", ETCD_WRONG_PASSWORD: "not-the-password" };
      const config = join(adHoc, "auth.yaml");
      const run = (workflow: string) => runOpskit(["run", "-c", config, workflow, "--json", "--journal", join(adHoc, "journal.db")], { env });
      const stepOf = (result: { stdout: string }) => result.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.type === "step.finished");

      const status = await run("status");
      expect(status.code).toBe(0);
      expect(stepOf(status).result.data.members.every((m: any) => m.healthy)).toBe(true);
      const defrag = await run("defrag");
      expect(defrag.code).toBe(0);
      expect(stepOf(defrag).result.data.order).toHaveLength(3);
      const wrong = await run("wrong");
      expect(wrong.code).toBe(2);
      expect(stepOf(wrong).result.error.message).toContain("authentication failed");
      const anonymous = await run("anonymous");
      expect(anonymous.code).toBe(2);
      expect(stepOf(anonymous).result.error.code).toBe("E_ETCD_UNHEALTHY");
      for (const result of [status, defrag, wrong, anonymous]) expect(result.stdout + result.stderr).not.toContain(password);
    },
    120_000,
  );
});

describe("the etcd action over TLS with a client certificate", () => {
  let cluster: EtcdCluster;
  let dir: string;
  let pki: string;

  beforeAll(async () => {
    const ca = await makeTestCa("opskit-etcd-pki-");
    pki = ca.dir;
    const server = await ca.issue("etcd-server", { san: "IP:127.0.0.1,DNS:localhost", both: true });
    const client = await ca.issue("opskit-client", { client: true });
    cluster = await startEtcdCluster({ quotaBytes: 64 * MiB, prefix: "tls", tls: { ca: ca.caCert, server, client } });
    dir = mkdtempSync(join(tmpdir(), "opskit-etcd-tls-"));
    const step = (extra: string) => `      - etcd: { endpoints: ${JSON.stringify(cluster.endpoints)}, ${extra} }\n`;
    const tls = `{ ca: ${JSON.stringify(ca.caCert)}, cert: ${JSON.stringify(client.cert)}, key: ${JSON.stringify(client.key)} }`;
    writeFileSync(
      join(dir, "opskit.yaml"),
      [
        "workflows:",
        "  status:\n    steps:\n" + step(`tls: ${tls}, status: {}`),
        "  defrag:\n    steps:\n" + step(`tls: ${tls}, defrag: { pause: 0s, moveLeader: true }`),
        "  no-certificate:\n    steps:\n" + step(`tls: { ca: ${JSON.stringify(ca.caCert)} }, status: {}`),
        "",
      ].join("\n"),
    );
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (pki) rmSync(pki, { recursive: true, force: true });
  });

  test(
    "status and a defrag work with the CA and the client certificate; without the certificate the members refuse it, and the step says so",
    async () => {
      const status = await runWorkflow(dir, "status");
      expect(status.code).toBe(0);
      expect(status.steps.get("etcd-1")!.result.data.members.every((m: any) => m.healthy && m.endpoint.startsWith("https://"))).toBe(true);
      const defrag = await runWorkflow(dir, "defrag");
      expect(defrag.code).toBe(0);
      const data = defrag.steps.get("etcd-1")!.result.data;
      expect(data.order).toHaveLength(3);
      expect(data.movedLeader.from).toBe(data.order.at(-1));
      const refused = await runWorkflow(dir, "no-certificate");
      expect(refused.code).toBe(1);
      expect(refused.steps.get("etcd-1")!.result.error.code).toBe("E_ETCD_UNREACHABLE");
    },
    120_000,
  );
});
