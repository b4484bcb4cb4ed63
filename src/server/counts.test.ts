import { expect, test } from "bun:test";
import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { LabeledCounter, LabeledHistogram } from "./counts.ts";

const bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

test("/metrics reads the same as with prom-client's counter and histogram, whatever was counted", async () => {
  const observation = fc.record({
    endpoint: fc.constantFrom("alertmanager", "incidents", "a\"b\\c\nd"),
    code: fc.constantFrom("200", "401", "503"),
    seconds: fc.oneof(fc.double({ min: 0, max: 3, noNaN: true }), fc.constantFrom(...bounds)),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(observation, { maxLength: 40 }), async (observations) => {
      const theirs = new Registry();
      const ours = new Registry();
      const counter = new Counter({ name: "x_requests_total", help: "Requests.", labelNames: ["endpoint", "code"], registers: [theirs] });
      const histogram = new Histogram({ name: "x_duration_seconds", help: "Time.", labelNames: ["endpoint"], buckets: bounds, registers: [theirs] });
      const fastCounter = new LabeledCounter("x_requests_total", "Requests.", ["endpoint", "code"]);
      const fastHistogram = new LabeledHistogram("x_duration_seconds", "Time.", "endpoint", bounds);
      for (const metric of [fastCounter, fastHistogram]) ours.registerMetric(metric as never);
      for (const { endpoint, code, seconds } of observations) {
        counter.inc({ endpoint, code });
        histogram.observe({ endpoint }, seconds);
        fastCounter.inc(endpoint, code);
        fastHistogram.observe(endpoint, seconds);
      }
      expect(await ours.metrics()).toBe(await theirs.metrics());
      ours.resetMetrics();
      theirs.resetMetrics();
      expect(await ours.metrics()).toBe(await theirs.metrics());
    }),
  );
});
