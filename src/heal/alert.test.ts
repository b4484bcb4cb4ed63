import { describe, expect, test } from "bun:test";
import { alertFingerprint } from "./alert.ts";

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
