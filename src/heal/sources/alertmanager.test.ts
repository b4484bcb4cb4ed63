import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { z } from "zod";
import { ExitCode } from "../../errors.ts";
import { alertFingerprint } from "../alert.ts";
import { parseAlertmanagerPayload } from "./alertmanager.ts";
import { fromNotifier, notifierAlert, notifierAlertsOf } from "./payload.ts";
import { amAlert, notification, thrown } from "./testing.ts";

describe("parseAlertmanagerPayload", () => {
  test("returns every alert of a grouped notification, each with its own fingerprint", () => {
    const fingerprints = ["0a1b2c3d4e5f6071", "1122334455667788", "99aabbccddeeff00"];
    const body = notification(["web-1", "web-2", "web-3"].map((host, i) => amAlert(host, { fingerprint: fingerprints[i] })));
    const parsed = parseAlertmanagerPayload(body);
    expect(parsed.groupKey).toBe('{}:{alertname="DiskFull"}');
    expect(parsed.receiver).toBe("opskit");
    expect(parsed.alerts.map((a) => a.labels.instance)).toEqual(["web-1", "web-2", "web-3"]);
    expect(parsed.alerts.map((a) => a.fingerprint)).toEqual(fingerprints);
    expect(parsed.alerts[1]).toEqual({
      source: "alertmanager",
      fingerprint: "1122334455667788",
      status: "firing",
      labels: { alertname: "DiskFull", instance: "web-2", severity: "critical" },
      annotations: { summary: "disk full on web-2" },
      startsAt: Date.UTC(2026, 2, 29, 0, 30, 0, 500),
      generatorURL: "http://prometheus:9090/graph?g0.expr=disk",
    });
  });

  test("computes the fingerprint Alertmanager would when the alert carries none", () => {
    const [alert] = parseAlertmanagerPayload(notification([amAlert("web-1")])).alerts;
    expect(alert!.fingerprint).toBe(alertFingerprint({ alertname: "DiskFull", instance: "web-1", severity: "critical" }));
  });

  test("reads resolved alerts with their end time", () => {
    const body = notification([amAlert("web-1", { status: "resolved", endsAt: "2026-03-29T00:41:07.25Z" })], { status: "resolved" });
    const [alert] = parseAlertmanagerPayload(body).alerts;
    expect(alert!.status).toBe("resolved");
    expect(alert!.endsAt).toBe(Date.UTC(2026, 2, 29, 0, 41, 7, 250));
  });

  test("a resolved and a firing alert in one group are both returned", () => {
    const body = notification([amAlert("web-1", { status: "resolved", endsAt: "2026-03-29T00:41:07Z" }), amAlert("web-2")]);
    expect(parseAlertmanagerPayload(body).alerts.map((a) => a.status)).toEqual(["resolved", "firing"]);
  });

  test("Go's zero time as endsAt means no end", () => {
    const [alert] = parseAlertmanagerPayload(notification([amAlert("web-1")])).alerts;
    expect(alert!.endsAt).toBeUndefined();
    expect("endsAt" in alert!).toBe(false);
  });

  test("ignores unknown fields at every level", () => {
    const body = notification([amAlert("web-1", { silencedBy: [], extra: { nested: true } })], { newField: 42, version: "4" });
    const [alert] = parseAlertmanagerPayload(body).alerts;
    expect(Object.keys(alert!).sort()).toEqual(["annotations", "fingerprint", "generatorURL", "labels", "source", "startsAt", "status"]);
  });

  test("keeps milliseconds and honours timezone offsets", () => {
    const body = notification([amAlert("web-1", { startsAt: "2026-03-29T02:30:00.123+02:00", endsAt: "2026-03-28T19:30:00.987654321-05:30" })]);
    const [alert] = parseAlertmanagerPayload(body).alerts;
    expect(alert!.startsAt).toBe(Date.UTC(2026, 2, 29, 0, 30, 0, 123));
    // Nanoseconds, as Go writes them, are cut to milliseconds.
    expect(alert!.endsAt).toBe(Date.UTC(2026, 2, 29, 1, 0, 0, 987));
  });

  test("an empty generatorURL is left out", () => {
    const [alert] = parseAlertmanagerPayload(notification([amAlert("web-1", { generatorURL: "" })])).alerts;
    expect(alert!.generatorURL).toBeUndefined();
  });

  test("rejects a version other than 4 with a clear message", () => {
    const error = thrown(() => parseAlertmanagerPayload(notification([amAlert("web-1")], { version: "3" })));
    expect(error.code).toBe("E_ALERT_PAYLOAD");
    expect(error.exitCode).toBe(ExitCode.config);
    expect(error.message).toBe('version: Alertmanager webhook version "3" is not supported; opskit reads version "4"');
    expect(error.hint).toBeTruthy();
    const { version: _version, ...unversioned } = notification([]);
    expect(thrown(() => parseAlertmanagerPayload(unversioned)).message).toStartWith("version: missing");
  });

  test("rejects a notification without alerts", () => {
    const { alerts: _alerts, ...body } = notification([]);
    expect(thrown(() => parseAlertmanagerPayload(body)).message).toBe("alerts: missing (expected a list of alerts)");
    expect(thrown(() => parseAlertmanagerPayload(notification([], { alerts: "none" }))).message).toBe('alerts: expected a list of alerts, got "none"');
  });

  test("rejects a body that is not an object", () => {
    expect(thrown(() => parseAlertmanagerPayload([])).message).toStartWith("body: expected a JSON object");
    expect(thrown(() => parseAlertmanagerPayload(null)).message).toBe("body: expected a JSON object, got null");
  });

  test("rejects labels that are not strings, naming the label", () => {
    const body = notification([amAlert("web-1"), amAlert("web-2", { labels: { alertname: "DiskFull", replicas: 3 } })]);
    const error = thrown(() => parseAlertmanagerPayload(body));
    expect(error.message).toBe("alerts[1].labels.replicas: expected a string, got number 3");
    expect(thrown(() => parseAlertmanagerPayload(notification([amAlert("web-1", { labels: ["a"] })]))).message).toStartWith("alerts[0].labels: expected an object");
  });

  test("rejects an unknown status", () => {
    const error = thrown(() => parseAlertmanagerPayload(notification([amAlert("web-1", { status: "pending" })])));
    expect(error.message).toBe('alerts[0].status: expected "firing" or "resolved", got "pending"');
  });

  test("rejects malformed times, naming the alert and the field", () => {
    const bad = ["yesterday", "2026-03-29", "2026-03-29 00:30:00Z", "2026-02-30T00:00:00Z", "2026-03-29T24:00:00Z", "2026-03-29T00:30:00", "2026-03-29T00:30:00+2:00"];
    for (const startsAt of bad) {
      const body = notification([amAlert("web-1"), amAlert("web-2"), amAlert("web-3", { startsAt })]);
      const error = thrown(() => parseAlertmanagerPayload(body));
      expect(error.message).toBe(`alerts[2].startsAt: not an RFC 3339 time: ${JSON.stringify(startsAt)}`);
      expect(error.code).toBe("E_ALERT_PAYLOAD");
    }
    expect(thrown(() => parseAlertmanagerPayload(notification([amAlert("web-1", { endsAt: 17 })]))).message).toBe("alerts[0].endsAt: expected a string, got number 17");
  });

  test("rejects the zero time as a start", () => {
    const error = thrown(() => parseAlertmanagerPayload(notification([amAlert("web-1", { startsAt: "0001-01-01T00:00:00Z" })])));
    expect(error.message).toStartWith("alerts[0].startsAt:");
  });
});

describe("the hand check of a notifier's alerts", () => {
  const schema = z.array(notifierAlert);
  const texts = fc.dictionary(fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "alertname")), fc.string(), { maxKeys: 4 });
  const field = <T>(valid: fc.Arbitrary<T>) => fc.option(fc.oneof({ weight: 4, arbitrary: valid as fc.Arbitrary<unknown> }, fc.jsonValue({ maxDepth: 2 })), { nil: undefined });
  const time = fc.constantFrom("2026-03-29T00:30:00.5Z", "0001-01-01T00:00:00Z", "2026-03-29T02:30:00+02:00", "yesterday");
  const alert = fc.record(
    {
      status: field(fc.constantFrom("firing", "resolved")),
      labels: field(texts),
      annotations: field(texts),
      startsAt: field(time),
      endsAt: field(time),
      generatorURL: field(fc.string()),
      fingerprint: field(fc.string()),
      extra: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  );
  const read = (alerts: readonly z.output<typeof notifierAlert>[]) => {
    try {
      return { alerts: fromNotifier(alerts, "alertmanager", "hint") };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };

  test("accepts what the schema accepts (__proto__ keys aside, left to the schema) and reads the same alerts from it", () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 5, arbitrary: fc.array(alert, { maxLength: 3 }) }, fc.jsonValue({ maxDepth: 2 })), (generated) => {
        // As a webhook body holds it: JSON, parsed.
        const value = JSON.parse(JSON.stringify(generated ?? null)) as unknown;
        const checked = notifierAlertsOf(value);
        const parsed = schema.safeParse(value);
        if (checked) {
          expect(parsed.success).toBe(true);
          expect(read(checked)).toEqual(read(parsed.data!));
        } else if (parsed.success) {
          expect(JSON.stringify(value)).toContain('"__proto__"');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
