import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import type { Check } from "../config/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import { MASK, registerSecret } from "../observe/index.ts";
import { alertFingerprint, type Alert } from "./alert.ts";
import { HISTORY_SIZE, shownTarget, startChecks, type CheckScheduler, type CheckState } from "./checks.ts";

/**
 * A loopback service whose answers the test scripts per path: /seq/KEY answers
 * from a script of "ok"/"fail" (the last entry repeats), /slow?ms=N answers
 * late, and every request is counted, also how many are in flight at once.
 */
interface Service {
  server: Server<undefined>;
  url(path: string): string;
  script(key: string, steps: ("ok" | "fail")[]): void;
  /** Arrival times (epoch ms) per path. */
  arrivals: Map<string, number[]>;
  maxInFlight: number;
  maxInFlightPerPath: Map<string, number>;
  resetCounters(): void;
}

function startService(): Service {
  const scripts = new Map<string, ("ok" | "fail")[]>();
  const seen = new Map<string, number>();
  const inFlightPerPath = new Map<string, number>();
  let inFlight = 0;
  const service: Service = {
    server: undefined as unknown as Server<undefined>,
    url: (path) => `http://127.0.0.1:${service.server.port}${path}`,
    script(key, steps) {
      scripts.set(key, steps);
      seen.set(key, 0);
    },
    arrivals: new Map(),
    maxInFlight: 0,
    maxInFlightPerPath: new Map(),
    resetCounters() {
      service.arrivals.clear();
      service.maxInFlight = 0;
      service.maxInFlightPerPath.clear();
    },
  };
  service.server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      const path = url.pathname;
      service.arrivals.set(path, [...(service.arrivals.get(path) ?? []), Date.now()]);
      inFlight++;
      inFlightPerPath.set(path, (inFlightPerPath.get(path) ?? 0) + 1);
      service.maxInFlight = Math.max(service.maxInFlight, inFlight);
      service.maxInFlightPerPath.set(path, Math.max(service.maxInFlightPerPath.get(path) ?? 0, inFlightPerPath.get(path)!));
      try {
        const delay = Number(url.searchParams.get("ms") ?? "0");
        if (delay > 0) await Bun.sleep(delay);
        const key = path.replace(/^\/seq\//, "");
        const steps = scripts.get(key);
        if (steps) {
          const n = seen.get(key)!;
          seen.set(key, n + 1);
          const step = steps[Math.min(n, steps.length - 1)];
          return step === "ok" ? new Response("ok\n") : new Response("unavailable\n", { status: 503 });
        }
        return new Response("ok\n");
      } finally {
        inFlight--;
        inFlightPerPath.set(path, inFlightPerPath.get(path)! - 1);
      }
    },
  });
  return service;
}

function check(overrides: Partial<Check> & Pick<Check, "name" | "probe">): Check {
  return { interval: "50ms", failureThreshold: 3, successThreshold: 2, labels: {}, annotations: {}, ...overrides };
}

const where = (path: (string | number)[]) => `opskit.yaml(${path.join(".")})`;

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** Starts checks that record every alert, with the probe start times the scheduler took from `now`. */
async function recordChecks(checks: Check[], concurrency = 4) {
  const alerts: { alert: Alert; probes: number }[] = [];
  const probeTimes: number[] = [];
  const scheduler = await startChecks(checks, {
    concurrency,
    where,
    emit: (alert) => alerts.push({ alert, probes: probeTimes.length }),
    now: () => {
      const at = Date.now();
      probeTimes.push(at);
      return at;
    },
  });
  running.push(scheduler);
  return { scheduler, alerts, probeTimes };
}

let service: Service;
const running: CheckScheduler[] = [];

beforeAll(() => {
  service = startService();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
  service.resetCounters();
});
afterAll(() => {
  service.server.stop(true);
});

describe("check history", () => {
  test("each check keeps its last results oldest first with the uptime over them, says what it probes, and reports each change of status", async () => {
    const steps: ("ok" | "fail")[] = ["ok", "fail", "fail", "fail", ...Array<"ok">(HISTORY_SIZE + 5).fill("ok")];
    service.script("history", steps);
    const changes: CheckState[] = [];
    // A timeout of its own: the default (the interval, 5 ms) fails a first probe whose connection is slow under load.
    const spec = check({ name: "api", probe: service.url("/seq/history"), interval: "5ms", timeout: "5s", labels: { group: "edge", team: "core" } });
    const scheduler = await startChecks([spec], { concurrency: 2, where, emit: () => undefined, onState: (state) => changes.push(state) });
    running.push(scheduler);
    const [empty] = scheduler.details();
    expect(empty).toMatchObject({ name: "api", kind: "http", target: service.url("/seq/history"), labels: { group: "edge", team: "core" }, group: "edge", intervalMs: 5, history: [] });
    expect(empty!.uptime).toBeUndefined();
    await until(() => (service.arrivals.get("/seq/history")?.length ?? 0) >= 8, 5000, "8 probes");
    const early = scheduler.details()[0]!;
    expect(early.history.slice(0, 4).map((r) => r.ok)).toEqual([true, false, false, false]);
    expect(early.history.every((r, i) => r.durationMs >= 0 && (i === 0 || r.at >= early.history[i - 1]!.at))).toBe(true);
    expect(early.uptime).toBe(early.history.filter((r) => r.ok).length / early.history.length);
    await until(() => (service.arrivals.get("/seq/history")?.length ?? 0) >= steps.length, 10_000, "every scripted probe");
    await scheduler.stop();
    const late = scheduler.details()[0]!;
    // The ring holds the last HISTORY_SIZE: the failures have gone out of it.
    expect(late.history).toHaveLength(HISTORY_SIZE);
    expect(late.uptime).toBe(1);
    expect(late.history.at(-1)!.at).toBe(late.lastRunAt!);
    expect(changes.map((c) => c.status)).toEqual(["passing", "failing", "firing", "passing"]);
    expect(changes[2]).toMatchObject({ name: "api", consecutiveFailures: 3 });
  }, 20_000);

  test("a target is shown without the userinfo of its URL, and with registered secrets masked", () => {
    expect(shownTarget("https://user:pa55@api.example:8443/health?x=1")).toBe("https://api.example:8443/health?x=1");
    expect(shownTarget("http://a@b@host/")).toBe("http://host/");
    expect(shownTarget("tcp://db.internal:5432")).toBe("tcp://db.internal:5432");
    expect(shownTarget("http://host/path@x")).toBe("http://host/path@x");
    registerSecret("check-query-secret-4711");
    expect(shownTarget("https://host/health?key=check-query-secret-4711")).toBe(`https://host/health?key=${MASK}`);
  });
});

describe("startChecks", () => {
  test("fires after exactly failureThreshold failures, dated at the first failure, and resolves after successThreshold", async () => {
    service.script("fire", ["fail", "fail", "fail", "fail", "ok", "fail", "ok", "ok", "ok"]);
    const spec = check({ name: "api-health", probe: service.url("/seq/fire"), expect: "status == 200", labels: { team: "core" }, annotations: { runbook: "https://wiki/api" } });
    const { scheduler, alerts, probeTimes } = await recordChecks([spec]);
    await until(() => alerts.length >= 2, 5000, "firing and resolved alerts");
    await scheduler.stop();

    const [firing, resolved] = alerts;
    const labels = { alertname: "api-health", check: "api-health", team: "core" };
    expect(firing!.probes).toBe(3);
    expect(firing!.alert).toEqual({
      source: "check",
      fingerprint: alertFingerprint(labels),
      status: "firing",
      labels,
      annotations: { summary: `api-health: ${service.url("/seq/fire")} failed 3 times in a row: expected status == 200, got status = 503`, runbook: "https://wiki/api" },
      startsAt: probeTimes[0]!,
    });
    // Probes 5 and 7 pass; 5 alone is below the threshold, 7 and 8 resolve.
    expect(resolved!.probes).toBe(8);
    expect(resolved!.alert).toMatchObject({ status: "resolved", fingerprint: firing!.alert.fingerprint, startsAt: probeTimes[0]!, endsAt: probeTimes[6]! });
    expect(resolved!.alert.annotations.summary).toBe(firing!.alert.annotations.summary);
    expect(alerts).toHaveLength(2);

    const [state] = scheduler.states();
    expect(state).toMatchObject({ name: "api-health", status: "passing", consecutiveFailures: 0 });
    expect(state!.firingSince).toBeUndefined();
    expect(state!.lastRunAt).toBe(probeTimes.at(-1)!);
    expect(state!.lastDurationMs).toBeGreaterThanOrEqual(0);
  }, 10_000);

  test("a check's probe renders the config's vars into its URL, and its expect reads them in CEL", async () => {
    service.script("vars", ["ok"]);
    const port = String(service.server.port);
    const vars = { port, path: "seq/vars", status: 200 };
    const alerts: Alert[] = [];
    const states: CheckState[] = [];
    const scheduler = await startChecks([check({ name: "by-vars", probe: "http://127.0.0.1:{{ vars.port }}/{{ vars.path }}", expect: "status == vars.status", failureThreshold: 1 })], {
      concurrency: 1,
      where,
      vars,
      emit: (alert) => alerts.push(alert),
      onState: (state) => states.push(state),
    });
    await until(() => states.length > 0, 5000, "a probe");
    await scheduler.stop();
    expect(states[0]).toMatchObject({ status: "passing" });
    expect(scheduler.details()[0]!.target).toBe(`http://127.0.0.1:${port}/seq/vars`);
    expect(alerts).toEqual([]);
    // A value is escaped for its place in the URL: it cannot add a query or a fragment, nor climb out of the path.
    const hostile = await startChecks([check({ name: "hostile", probe: "http://127.0.0.1:{{ vars.port }}/{{ vars.path }}" })], { concurrency: 1, where, vars: { port, path: "x?y=1#z" }, emit: () => undefined });
    await hostile.stop();
    expect(hostile.details()[0]!.target).toBe(`http://127.0.0.1:${port}/x%3Fy%3D1%23z`);
    const climbing = await startChecks([check({ name: "climb", probe: "http://127.0.0.1:{{ vars.port }}/{{ vars.path }}" })], { concurrency: 1, where, vars: { port, path: "../admin" }, emit: () => undefined }).catch((e: unknown) => e);
    expect(climbing).toBeInstanceOf(OpsError);
    expect((climbing as OpsError).message).toStartWith("opskit.yaml(checks.0.probe)");
  }, 10_000);

  test("a check that flaps below its failure threshold never fires, nor resolves", async () => {
    service.script("flap", ["fail", "fail", "ok", "fail", "fail", "ok", "fail", "fail", "ok", "ok"]);
    const { scheduler, alerts, probeTimes } = await recordChecks([check({ name: "flappy", probe: service.url("/seq/flap") })]);
    await until(() => probeTimes.length >= 12, 5000, "12 probes");
    await scheduler.stop();
    expect(alerts).toEqual([]);
    expect(scheduler.states()[0]).toMatchObject({ status: "passing", consecutiveFailures: 0 });
  }, 10_000);

  test("a firing check repeats its alert only on every 10th failing probe", async () => {
    service.script("down", ["fail"]);
    const { scheduler, alerts, probeTimes } = await recordChecks([check({ name: "down", probe: service.url("/seq/down"), failureThreshold: 2, interval: "20ms" })]);
    await until(() => probeTimes.length >= 23, 8000, "23 probes");
    await scheduler.stop();
    // On a loaded machine more probes may land before stop(): the series continues, never denser.
    const probes = alerts.map((a) => a.probes);
    expect(probes.length).toBeGreaterThanOrEqual(3);
    expect(probes).toEqual(probes.map((_, i) => 2 + 10 * i));
    expect(new Set(alerts.map((a) => a.alert.startsAt))).toEqual(new Set([probeTimes[0]!]));
    expect(new Set(alerts.map((a) => a.alert.fingerprint)).size).toBe(1);
    expect(alerts.every((a) => a.alert.status === "firing")).toBe(true);
    expect(alerts[0]!.alert.annotations.summary).toEndWith("failed 2 times in a row: status 503 Service Unavailable");
    const state = scheduler.states()[0]!;
    expect(state).toMatchObject({ status: "firing", firingSince: probeTimes[0]!, lastError: "status 503 Service Unavailable" });
    // Every probe that started failed; the last may have been cut off by stop() before it counted.
    expect(state.consecutiveFailures).toBeGreaterThanOrEqual(probeTimes.length - 1);
    expect(state.consecutiveFailures).toBeLessThanOrEqual(probeTimes.length);
  }, 15_000);

  test("spreads checks over their interval instead of probing all at once", async () => {
    const checks = [0, 1, 2, 3].map((i) => check({ name: `spread-${i}`, probe: service.url(`/spread/${i}`), interval: "400ms" }));
    await recordChecks(checks);
    await until(() => [0, 1, 2, 3].every((i) => service.arrivals.has(`/spread/${i}`)), 5000, "a probe of every check");
    const first = [0, 1, 2, 3].map((i) => service.arrivals.get(`/spread/${i}`)![0]!);
    // Planned at 0, 100, 200 and 300 ms.
    for (let i = 1; i < 4; i++) expect(first[i]!).toBeGreaterThan(first[i - 1]!);
    expect(first[3]! - first[0]!).toBeGreaterThanOrEqual(150);
  }, 10_000);

  test("all checks share one bounded pool, and no check overlaps itself", async () => {
    const checks = [0, 1, 2, 3, 4, 5].map((i) => check({ name: `pool-${i}`, probe: service.url(`/pool/${i}?ms=120`), interval: "50ms", timeout: "5s" }));
    const { scheduler, probeTimes } = await recordChecks(checks, 2);
    await until(() => probeTimes.length >= 14, 8000, "14 probes");
    await scheduler.stop();
    expect(service.maxInFlight).toBe(2);
    for (const [path, max] of service.maxInFlightPerPath) expect({ path, max }).toEqual({ path, max: 1 });
    // Every check got its turn.
    expect(service.maxInFlightPerPath.size).toBe(6);
  }, 15_000);

  test("a bad expectation fails startChecks naming the check", async () => {
    const checks = [
      check({ name: "fine", probe: service.url("/ok") }),
      check({ name: "typo", probe: service.url("/ok"), expect: ["status == 200", "stauts == 200"] }),
    ];
    const error = await startChecks(checks, { concurrency: 2, where, emit: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpsError);
    expect((error as OpsError).message).toStartWith(where(["checks", 1, "expect", 1]));
    expect((error as OpsError).message).toContain('"stauts"');
    expect((error as OpsError).exitCode).toBe(ExitCode.config);

    const syntax = await startChecks([check({ name: "syntax", probe: service.url("/ok"), expect: "status ==" })], { concurrency: 1, where, emit: () => {} }).catch((e: unknown) => e);
    expect((syntax as OpsError).message).toStartWith(where(["checks", 0, "expect"]));
  });

  test("a bad probe target fails startChecks naming the check", async () => {
    for (const probe of ["api.internal/health", "ftp://files.internal/", "tcp://db.internal", "http://user:secret@api.internal/"]) {
      const error = await startChecks([check({ name: "ok", probe: service.url("/ok") }), check({ name: "bad", probe })], { concurrency: 1, where, emit: () => {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpsError);
      expect((error as OpsError).message).toStartWith(where(["checks", 1, "probe"]));
      expect((error as OpsError).exitCode).toBe(ExitCode.config);
    }
  });

  test("an interval of zero is refused", async () => {
    const error = await startChecks([check({ name: "busy", probe: service.url("/ok"), interval: "0" })], { concurrency: 1, where, emit: () => {} }).catch((e: unknown) => e);
    expect((error as OpsError).message).toStartWith(where(["checks", 0, "interval"]));
  });

  test("stop() aborts a slow probe promptly and emits nothing after", async () => {
    const spec = check({ name: "slow", probe: service.url("/slow?ms=5000"), interval: "10s", failureThreshold: 1 });
    const { scheduler, alerts } = await recordChecks([spec]);
    await until(() => service.arrivals.has("/slow"), 3000, "the slow probe to arrive");
    const started = performance.now();
    await scheduler.stop();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(alerts).toEqual([]);
    expect(scheduler.states()[0]!.status).toBe("unknown");
  }, 10_000);
});

describe("checks shared by replicas", () => {
  test("a check runs only while this replica owns it; one taken over resolves the alert its previous owner raised", async () => {
    // Always failing until the switch, then passing.
    let healthy = false;
    const target = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(healthy ? "ok" : "down", { status: healthy ? 200 : 503 }) });
    try {
      const spec = check({ name: "shared", probe: `http://127.0.0.1:${target.port}/`, expect: "status == 200" });
      let owner: "a" | "b" = "a";
      const alerts: { replica: string; alert: Alert }[] = [];
      const journalFiring = new Map<string, number>();
      const start = (replica: "a" | "b") =>
        startChecks([spec], {
          concurrency: 2,
          where,
          owns: () => owner === replica,
          // What the journal would say: the alert state the owner's alerts left.
          resume: async (fingerprint) => journalFiring.get(fingerprint),
          emit: (alert) => {
            alerts.push({ replica, alert });
            if (alert.status === "firing") journalFiring.set(alert.fingerprint, alert.startsAt);
            else journalFiring.delete(alert.fingerprint);
          },
        });
      const a = await start("a");
      const b = await start("b");
      running.push(a, b);
      await until(() => alerts.length >= 1, 5000, "replica a to fire");
      expect(alerts.map((x) => [x.replica, x.alert.status])).toEqual([["a", "firing"]]);
      expect(a.states()[0]).toMatchObject({ status: "firing", owned: true });
      expect(b.states()[0]).toMatchObject({ status: "unknown", owned: false });
      const firedAt = alerts[0]!.alert.startsAt;
      // Replica a dies (or hands the check over); b owns it now, and the service recovers.
      owner = "b";
      await a.stop();
      healthy = true;
      await until(() => alerts.length >= 2, 5000, "replica b to resolve");
      expect(alerts.map((x) => [x.replica, x.alert.status])).toEqual([
        ["a", "firing"],
        ["b", "resolved"],
      ]);
      // The resolve is the same episode's: its startsAt is the first owner's.
      expect(alerts[1]!.alert.startsAt).toBe(firedAt);
      expect(b.states()[0]).toMatchObject({ status: "passing", owned: true });
    } finally {
      target.stop(true);
    }
  });
});
