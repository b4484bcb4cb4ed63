import { describe, expect, test } from "bun:test";
import { referencedFields } from "./index.ts";

const refs = async (source: string) => (await referencedFields(source, ["vars", "env"])).map((r) => `${r.root}.${r.field}${r.guarded ? "?" : ""}`).sort();

describe("referencedFields", () => {
  test("lists vars and env fields read by name, by index with a constant, and inside calls", async () => {
    expect(await refs('vars.version != "" && env.TOKEN.size() > 0')).toEqual(["env.TOKEN", "vars.version"]);
    expect(await refs('vars["release-dir"] + "/" + string(vars.ports[vars.service])')).toEqual(["vars.ports", "vars.release-dir", "vars.service"]);
    expect(await refs("[vars.a, {'k': vars.b}]")).toEqual(["vars.a", "vars.b"]);
  });

  test("a field tested with has() or in is guarded; a name computed at run time is not listed", async () => {
    expect(await refs('has(vars.tag) ? vars.tag : "latest"')).toEqual(["vars.tag?"]);
    expect(await refs('"x" in vars && vars.x == 1')).toEqual(["vars.x?"]);
    expect(await refs("vars[target.name] == 1")).toEqual([]);
  });

  test("other roots, macro variables that shadow a root and deeper fields are not references", async () => {
    expect(await refs("target.vars.x == steps.build.stdout")).toEqual([]);
    expect(await refs("[1, 2].exists(vars, vars > 1)")).toEqual([]);
    expect(await refs("vars.db.host == 'x'")).toEqual(["vars.db"]);
  });
});
