import { describe, expect, test } from "bun:test";
import type { IncidentStore } from "../journal/index.ts";
import type { HealEvent } from "./events.ts";
import { lineOf, timelineSink } from "./timeline.ts";

const at = Date.UTC(2026, 10, 25, 10, 0, 0);

describe("the incident timeline as a sink of heal events", () => {
  test("each fact's line reads as it did when the core wrote it", () => {
    const lines: [HealEvent, string | undefined][] = [
      [{ type: "incident.opened", incidentId: 1, title: "Broken", fingerprint: "f", labels: { alertname: "Broken", service: "api" }, source: "alertmanager", receivedAt: at, traceId: "4bf92f3577b34da6a3ce929d0e0e4736" }, 'firing: Broken {service="api"} (alertmanager)'],
      [{ type: "incident.opened", incidentId: 1, title: "Broken", fingerprint: "f", labels: { alertname: "Broken" }, source: "grafana", receivedAt: at, traceId: "4bf92f3577b34da6a3ce929d0e0e4736" }, "firing: Broken (grafana)"],
      [{ type: "incident.unmatched", incidentId: 1, at }, "no rule matches this alert: it waits for a person (opskit incidents ack)"],
      [{ type: "incident.milestone", incidentId: 1, milestone: "acknowledged", at, note: "by ana" }, "acknowledged: by ana"],
      [{ type: "incident.milestone", incidentId: 1, milestone: "detected", at }, "detected"],
      [{ type: "alert.received", source: "generic", fingerprint: "f", status: "resolved", alertname: "Broken", incidentId: 1, outcome: "resolved", receivedAt: at }, "resolved (generic)"],
      [{ type: "alert.received", source: "generic", fingerprint: "f", status: "resolved", alertname: "Broken", incidentId: 1, outcome: "repeat", receivedAt: at }, "resolved notification repeated"],
      [{ type: "alert.received", source: "generic", fingerprint: "f", status: "firing", alertname: "Broken", incidentId: 1, outcome: "stale", receivedAt: at }, "ignored: firing notification delivered after its resolve (out of order)"],
      [{ type: "alert.received", source: "generic", fingerprint: "f", status: "firing", alertname: "Broken", incidentId: 1, outcome: "repeat", receivedAt: at }, undefined],
      [{ type: "rule.missing", incidentId: 1, rule: "fix-it", at }, "rule fix-it is no longer in the config: nothing runs"],
      [{ type: "remediation.approved", incidentId: 1, rule: "fix-it", attempt: 2, at }, "approved: attempt 2"],
      [{ type: "remediation.approved", incidentId: 1, rule: "fix-it", attempt: 2, at, by: "ana" }, "approved: attempt 2 by ana"],
      [{ type: "remediation.denied", incidentId: 1, rule: "fix-it", attempt: 2, by: "ana", reason: "not now", at }, "denied: attempt 2 by ana: not now"],
      [{ type: "remediation.denied", incidentId: 1, rule: "fix-it", attempt: 3, by: "api", at }, "denied: attempt 3 by api"],
      [
        { type: "remediation.started", incidentId: 1, rule: "fix-it", attempt: 2, maxAttempts: 3, runId: "r2", workflow: "fix", targets: ["local"], continues: { runId: "r1", rerun: ["second on local"] }, at },
        "remediation started: attempt 2 of 3, workflow fix on local (run r2); continues run r1: steps that finished there do not run again, second on local (cut off there) runs again",
      ],
      [{ type: "remediation.finished", incidentId: 1, rule: "fix-it", attempt: 2, runId: "r2", status: "failed", durationMs: 5, detail: "run r2 failed", at }, "attempt 2 failed: run r2 failed"],
      [{ type: "remediation.interrupted", incidentId: 1, rule: "fix-it", attempt: 1, onInterrupted: "retry", at }, "attempt 1 interrupted: the server stopped during it; a new attempt may run (onInterrupted: retry)"],
      [{ type: "remediation.interrupted", incidentId: 1, rule: "fix-it", attempt: 2, onInterrupted: "escalate", replica: "r2", at }, "attempt 2 interrupted: replica r2 stopped during it; escalating (onInterrupted: escalate)"],
      [{ type: "escalation.skipped", incidentId: 1, reason: "escalated: maxAttempts 2 reached", at }, "already escalated; maxAttempts 2 reached"],
      [{ type: "escalation.finished", incidentId: 1, rule: "fix-it", runId: "r3", ok: true, detail: "run r3 succeeded", at }, "escalation sent: run r3 succeeded"],
      [{ type: "incident.resolved", incidentId: 1, title: "Broken", resolution: "alert resolved", milestones: {} }, undefined],
      [{ type: "heal.error", message: "notification 3 not applied: bad body", notificationId: 3 }, undefined],
    ];
    for (const [event, message] of lines) expect(lineOf(event)?.message).toBe(message as string);
    expect(lineOf(lines[0]![0])).toMatchObject({ incidentId: 1, at, kind: "alert" });
    expect(lineOf({ type: "incident.gate", incidentId: 4, rule: "fix-it", gate: "dedupe", reason: "deduplicated" })?.data).toEqual({ gate: "dedupe", rule: "fix-it" });
    // A wait keeps when it ends, and its length after the line's time (the dashboard's "4m12s left").
    const until = Date.now() + 60_000;
    const wait = lineOf({ type: "incident.gate", incidentId: 4, rule: "fix-it", gate: "cooldown", reason: "suppressed: cooldown, 1m left", until })!;
    expect(wait).toMatchObject({ kind: "gate", data: { gate: "cooldown", rule: "fix-it", until } });
    expect(wait.at + (wait.data!.waitMs as number)).toBe(until);
  });

  test("lines are written through the given store in the order the events came, and a failed write is reported by written()", async () => {
    const written: string[] = [];
    let fail = false;
    const store = {
      addIncidentEvent: async (incidentId: number, line: { message: string }) => {
        if (fail) throw new Error("disk full");
        written.push(`${incidentId}: ${line.message}`);
      },
    } as unknown as IncidentStore;
    const timeline = timelineSink(store);
    timeline.sink({ type: "incident.unmatched", incidentId: 7, at });
    timeline.sink({ type: "notifications.processed", count: 1, lagMs: 0 });
    timeline.sink({ type: "remediation.approved", incidentId: 7, rule: "r", attempt: 1, at });
    await timeline.written();
    expect(written).toEqual(["7: no rule matches this alert: it waits for a person (opskit incidents ack)", "7: approved: attempt 1"]);
    fail = true;
    timeline.sink({ type: "remediation.approved", incidentId: 7, rule: "r", attempt: 2, at });
    await expect(timeline.written()).rejects.toThrow("disk full");
    await timeline.written();
  });
});
