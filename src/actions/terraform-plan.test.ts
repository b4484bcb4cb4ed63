import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { countLine, judgePlan, readPlan } from "./terraform-plan.ts";

// Plan documents in the documented JSON format (test/fixtures/terraform/plans),
// as `terraform show -json PLANFILE` prints them.
const fixture = (name: string) => readFileSync(join(import.meta.dir, "../../test/fixtures/terraform/plans", name), "utf8");
const plan = (changes: { address: string; actions: string[] }[]) =>
  JSON.stringify({ format_version: "1.2", resource_changes: changes.map((c) => ({ address: c.address, type: c.address.split(".")[0], change: { actions: c.actions } })) });

describe("reading show -json", () => {
  test("each documented action list reads as its kind; no-ops are dropped and reads kept apart", () => {
    const summary = readPlan(
      plan([
        { address: "a.noop", actions: ["no-op"] },
        { address: "a.new", actions: ["create"] },
        { address: "a.changed", actions: ["update"] },
        { address: "a.gone", actions: ["delete"] },
        { address: "a.destroy_first", actions: ["delete", "create"] },
        { address: "a.create_first", actions: ["create", "delete"] },
        { address: "data.a.lookup", actions: ["read"] },
      ]),
    );
    expect(summary.changes.map((c) => [c.address, c.kind])).toEqual([
      ["a.new", "create"],
      ["a.changed", "update"],
      ["a.gone", "delete"],
      ["a.destroy_first", "replace"],
      ["a.create_first", "replace"],
      ["data.a.lookup", "read"],
    ]);
    expect(summary.counts).toEqual({ create: 1, update: 1, delete: 1, replace: 2, read: 1, forget: 0 });
    expect(countLine(summary.counts)).toBe("Plan: 3 to add, 1 to change, 3 to destroy (2 replaced).");
  });

  test("fixtures: reasons, replace paths and output changes are kept, values are not", () => {
    const replace = readPlan(fixture("replace-destroy-first.json"));
    expect(replace.changes).toEqual([
      { address: "aws_db_instance.main", type: "aws_db_instance", kind: "replace", actions: ["delete", "create"], reason: "replace_because_cannot_update", replacePaths: [["engine_version"]] },
    ]);
    const create = readPlan(fixture("create.json"));
    expect(create.outputs).toEqual([{ name: "www_fqdn", actions: ["create"] }]);
    expect(JSON.stringify(create)).not.toContain("www.example.com");
  });

  test("a major format version it does not know, or something that is not a plan, is refused", () => {
    expect(() => readPlan(JSON.stringify({ format_version: "2.0", resource_changes: [] }))).toThrow(/format_version 2.0/);
    expect(() => readPlan('{"version": 4, "resources": []}')).toThrow(/no format_version/);
    expect(() => readPlan("not json")).toThrow(/not JSON/);
    expect(() => readPlan(JSON.stringify({ format_version: "1.2", resource_changes: [{ address: "a.b", change: {} }] }))).toThrow(/resource_changes\[0\]\.change\.actions/);
  });
});

describe("the gates", () => {
  test("a deletion and both replacement orders are refused without allowDestroy, each address named", () => {
    const refusal = judgePlan(readPlan(fixture("delete.json")), { allowDestroy: false });
    expect(refusal).toMatchObject({ gate: "allowDestroy", code: "E_TERRAFORM_DESTROY", addresses: ["aws_instance.old"] });
    expect(refusal!.reason).toBe("the plan would destroy aws_instance.old (delete_because_no_resource_config)");
    for (const [file, order] of [
      ["replace-destroy-first.json", "destroy, then create"],
      ["replace-create-first.json", "create, then destroy"],
    ] as const) {
      const replaced = judgePlan(readPlan(fixture(file)), { allowDestroy: false });
      expect(replaced?.reason).toContain(`replace `);
      expect(replaced?.reason).toContain(order);
      expect(judgePlan(readPlan(fixture(file)), { allowDestroy: true })).toBeUndefined();
    }
  });

  test("maxChanges counts what acts on infrastructure, not reads", () => {
    expect(judgePlan(readPlan(fixture("many.json")), { allowDestroy: false, maxChanges: 5 })).toBeUndefined();
    expect(judgePlan(readPlan(fixture("many.json")), { allowDestroy: false, maxChanges: 4 })).toMatchObject({ gate: "maxChanges", addresses: expect.arrayContaining(["aws_route53_record.r0"]) });
    expect(judgePlan(readPlan(plan([{ address: "data.x.y", actions: ["read"] }])), { allowDestroy: false, maxChanges: 0 })).toBeUndefined();
  });

  test("any action list holding delete is refused without allowDestroy; none without it ever is", () => {
    const action = fc.constantFrom("create", "update", "delete", "read", "no-op", "forget", "some-future-action");
    fc.assert(
      fc.property(fc.array(fc.array(action, { minLength: 1, maxLength: 3 }), { maxLength: 8 }), (lists) => {
        const summary = readPlan(plan(lists.map((actions, i) => ({ address: `r.n${i}`, actions }))));
        const deleting = lists.flatMap((actions, i) => (actions.includes("delete") ? [`r.n${i}`] : []));
        const refusal = judgePlan(summary, { allowDestroy: false });
        expect(refusal?.addresses ?? []).toEqual(deleting);
        expect(judgePlan(summary, { allowDestroy: true })).toBeUndefined();
      }),
    );
  });
});
