import { describe, expect, test } from "bun:test";
import { ExitCode, OpsError } from "../errors.ts";
import { alertFingerprint, MAX_GENERIC_ALERTS, parseAlertmanagerPayload, parseGenericPayload } from "./alert.ts";

/** An Alertmanager 0.25 webhook notification as it arrives, with fields opskit does not read. */
function notification(alerts: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    receiver: "opskit",
    status: "firing",
    alerts,
    groupLabels: { alertname: "DiskFull" },
    commonLabels: { alertname: "DiskFull" },
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    version: "4",
    groupKey: '{}:{alertname="DiskFull"}',
    truncatedAlerts: 0,
    ...extra,
  };
}

function amAlert(instance: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    status: "firing",
    labels: { alertname: "DiskFull", instance, severity: "critical" },
    annotations: { summary: `disk full on ${instance}` },
    startsAt: "2026-03-29T00:30:00.5Z",
    endsAt: "0001-01-01T00:00:00Z",
    generatorURL: "http://prometheus:9090/graph?g0.expr=disk",
    ...extra,
  };
}

/** The OpsError a call throws. */
function thrown(call: () => unknown): OpsError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(OpsError);
    return error as OpsError;
  }
  throw new Error("expected the call to throw");
}

describe("alertFingerprint", () => {
  test("matches Prometheus' own test vectors for model.LabelSet.Fingerprint", () => {
    // prometheus/common model/signature_test.go: TestMetricToFingerprint and the fingerprint benchmarks.
    expect(alertFingerprint({})).toBe((14695981039346656037n).toString(16));
    expect(alertFingerprint({ name: "garland, briggs", fear: "love is not enough" })).toBe((5799056148416392346n).toString(16));
    expect(alertFingerprint({ "first-label": "first-label-value", "second-label": "second-label-value" })).toBe((3195800080984914717n).toString(16).padStart(16, "0"));
  });

  test("matches fingerprints a real Alertmanager 0.25 put in its webhook", () => {
    expect(alertFingerprint({ alertname: "Fp", instance: "web-1" })).toBe("31f86aa3202f4527");
    expect(alertFingerprint({ alertname: "Utf", instance: "db-1:9100", job: "node", severity: "critical", zone: "zürich" })).toBe("a78991834224cba4");
  });

  test("renders 16 lowercase hex digits, leading zeros kept", () => {
    for (let i = 0; i < 200; i++) expect(alertFingerprint({ alertname: "A", i: String(i) })).toMatch(/^[0-9a-f]{16}$/);
  });

  test("does not depend on the order labels were inserted in", () => {
    const a = alertFingerprint({ alertname: "DiskFull", instance: "web-1", severity: "critical", zone: "a" });
    const b = alertFingerprint({ zone: "a", severity: "critical", instance: "web-1", alertname: "DiskFull" });
    expect(a).toBe(b);
    expect(alertFingerprint({ alertname: "DiskFull", instance: "web-2", severity: "critical", zone: "a" })).not.toBe(a);
  });

  test("separates names from values, so moving a character across the boundary changes it", () => {
    expect(alertFingerprint({ ab: "c" })).not.toBe(alertFingerprint({ a: "bc" }));
  });
});

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

describe("parseGenericPayload", () => {
  const now = Date.UTC(2026, 2, 29, 12, 0, 0);

  test("reads one alert object, with defaults for status and startsAt", () => {
    const alerts = parseGenericPayload({ labels: { alertname: "QueueBacklog", queue: "billing" }, annotations: { summary: "backlog" } }, now);
    expect(alerts).toEqual([
      {
        source: "generic",
        fingerprint: alertFingerprint({ alertname: "QueueBacklog", queue: "billing" }),
        status: "firing",
        labels: { alertname: "QueueBacklog", queue: "billing" },
        annotations: { summary: "backlog" },
        startsAt: now,
      },
    ]);
  });

  test("reads a list of alerts, keeping given times, fingerprints and status", () => {
    const alerts = parseGenericPayload(
      [
        { labels: { alertname: "A" }, startsAt: "2026-03-29T02:30:00.123+02:00", generatorURL: "http://grafana/d/1" },
        { labels: { alertname: "B" }, status: "resolved", startsAt: "2026-03-29T00:00:00Z", endsAt: "2026-03-29T00:05:00Z", fingerprint: "custom-1", extra: true },
      ],
      now,
    );
    expect(alerts).toHaveLength(2);
    expect(alerts[0]!.startsAt).toBe(Date.UTC(2026, 2, 29, 0, 30, 0, 123));
    expect(alerts[0]!.generatorURL).toBe("http://grafana/d/1");
    expect(alerts[1]).toMatchObject({ status: "resolved", fingerprint: "custom-1", endsAt: Date.UTC(2026, 2, 29, 0, 5) });
  });

  test("shares its fingerprint with the same alert through Alertmanager", () => {
    const labels = { alertname: "DiskFull", instance: "web-1", severity: "critical" };
    const [generic] = parseGenericPayload({ labels: { severity: "critical", instance: "web-1", alertname: "DiskFull" } }, now);
    const [viaAm] = parseAlertmanagerPayload(notification([amAlert("web-1", { labels })])).alerts;
    expect(generic!.fingerprint).toBe(viaAm!.fingerprint);
  });

  test("coerces number and boolean label values to strings", () => {
    const [alert] = parseGenericPayload({ labels: { alertname: "A", replicas: 3, canary: true }, annotations: { value: 0.5 } }, now);
    expect(alert!.labels).toEqual({ alertname: "A", replicas: "3", canary: "true" });
    expect(alert!.annotations).toEqual({ value: "0.5" });
  });

  test("rejects label values that are objects or null, naming them", () => {
    expect(thrown(() => parseGenericPayload({ labels: { alertname: "A", owner: { team: "x" } } }, now)).message).toBe("labels.owner: expected a string, got an object");
    expect(thrown(() => parseGenericPayload([{ labels: { alertname: "A" } }, { labels: { alertname: null } }], now)).message).toBe("[1].labels.alertname: expected a string, got null");
  });

  test("requires labels and an alertname", () => {
    const missingLabels = thrown(() => parseGenericPayload({ annotations: {} }, now));
    expect(missingLabels.message).toBe("labels: missing (expected an object of labels)");
    expect(missingLabels.code).toBe("E_ALERT_PAYLOAD");
    expect(missingLabels.hint).toContain("alertname");
    expect(thrown(() => parseGenericPayload([{ labels: { alertname: "A" } }, { labels: { service: "api" } }], now)).message).toBe("[1].labels.alertname: missing: every alert needs an alertname label");
    expect(thrown(() => parseGenericPayload({ labels: { alertname: "" } }, now)).message).toStartWith("labels.alertname: missing");
  });

  test("rejects malformed times and unknown statuses", () => {
    expect(thrown(() => parseGenericPayload({ labels: { alertname: "A" }, startsAt: "yesterday" }, now)).message).toBe('startsAt: not an RFC 3339 time: "yesterday"');
    expect(thrown(() => parseGenericPayload([{ labels: { alertname: "A" }, status: "ok" }], now)).message).toBe('[0].status: expected "firing" or "resolved", got "ok"');
  });

  test(`accepts up to ${MAX_GENERIC_ALERTS} alerts and rejects more`, () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ labels: { alertname: "A", i } }));
    expect(parseGenericPayload(many(MAX_GENERIC_ALERTS), now)).toHaveLength(MAX_GENERIC_ALERTS);
    expect(thrown(() => parseGenericPayload(many(MAX_GENERIC_ALERTS + 1), now)).message).toBe(`body: ${MAX_GENERIC_ALERTS + 1} alerts in one notification; the limit is ${MAX_GENERIC_ALERTS}`);
  });

  test("rejects a body that is neither an alert nor a list", () => {
    expect(thrown(() => parseGenericPayload("down", now)).message).toBe('body: expected an alert object, got "down"');
  });
});
