import { describe, expect, test } from "bun:test";
import { failureBudget, planBatches } from "./plan.ts";

const hosts = Array.from({ length: 10 }, (_, i) => `h${i + 1}`);

describe("planBatches", () => {
  test("rolling sizes apply in order, percentages of all targets, the last size repeats", () => {
    const batches = planBatches(hosts, { rolling: { batch: [1, "25%", 3], maxFailures: 0 } });
    expect(batches.map((b) => b.length)).toEqual([1, 3, 3, 3]);
    expect(batches.flat()).toEqual(hosts);
  });

  test("100% is one batch of everything that is left", () => {
    expect(planBatches(hosts, { rolling: { batch: [2, "100%"], maxFailures: 0 } }).map((b) => b.length)).toEqual([2, 8]);
  });

  test("parallel is a single batch", () => {
    expect(planBatches(hosts, { parallel: { concurrency: 4 } })).toEqual([hosts]);
  });
});

describe("failureBudget", () => {
  test("counts and percentages of all targets; unreachable defaults to the failure budget", () => {
    expect(failureBudget({ rolling: { batch: 1, maxFailures: "20%" } }, {}, 10)).toEqual({ failures: 2, unreachable: 2 });
    expect(failureBudget({ rolling: { batch: 1, maxFailures: 0, maxUnreachable: 3 } }, {}, 10)).toEqual({ failures: 0, unreachable: 3 });
    expect(failureBudget({ parallel: { concurrency: 5 } }, { maxFailures: 1 }, 10)).toEqual({ failures: 1, unreachable: 1 });
    expect(failureBudget({ parallel: { concurrency: 5 } }, {}, 10).failures).toBe(Number.POSITIVE_INFINITY);
  });
});
