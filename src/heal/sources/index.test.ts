import { describe, expect, test } from "bun:test";
import { alertSource, alertSources, alertsOf, checkNotificationBody } from "./index.ts";
import { notification, amAlert } from "./testing.ts";

describe("the alert source registry", () => {
  test("kinds, routes and endpoint names are unique, and every route is under /api/v1/alerts", () => {
    const unique = (values: string[]) => expect(new Set(values).size).toBe(values.length);
    unique(alertSources.map((s) => s.kind));
    const routes = alertSources.flatMap((s) => (s.route ? [s.route] : []));
    unique(routes.map((r) => r.path));
    unique(routes.map((r) => r.endpoint));
    for (const route of routes) expect(route.path).toMatch(/^\/api\/v1\/alerts(\/[a-z0-9-]+)?$/);
  });

  test("a stored body is read back by the source that received it, stamped with its kind", () => {
    const receivedAt = Date.UTC(2026, 2, 29, 12);
    expect(alertsOf("alertmanager", JSON.stringify(notification([amAlert("web-1")])), receivedAt)[0]!.source).toBe("alertmanager");
    const [generic] = alertsOf("generic", JSON.stringify({ labels: { alertname: "A" } }), receivedAt);
    expect(generic).toMatchObject({ source: "generic", startsAt: receivedAt });
    expect(() => alertsOf("pagerduty", "{}", receivedAt)).toThrow(/no alert source "pagerduty"/);
    expect(alertSource("grafana")?.route?.path).toBe("/api/v1/alerts/grafana");
  });

  test("a check's alert survives the trip through its stored body", () => {
    const alert = { source: "check", fingerprint: "f00d", status: "resolved" as const, labels: { alertname: "api-health", check: "api-health" }, annotations: { summary: "down" }, startsAt: 1_000, endsAt: 61_000 };
    expect(alertsOf("check", checkNotificationBody(alert), 99_000)).toEqual([alert]);
    expect(alertSource("check")?.route).toBeUndefined();
  });
});
