import type { SchemaKit } from "../schema/index.ts";
import { compileExpectations } from "../expr/index.ts";
import { expectationVariables } from "../probe/index.ts";
import { probeOnce } from "./http.ts";
import { compileTargetUrl } from "./render.ts";
import type { Action, SpecOf } from "./types.ts";

const schema = ({ z }: SchemaKit) =>
  z.union([z.string().min(1), z.object({ url: z.string().min(1), expect: z.union([z.string(), z.array(z.string())]).optional() }).strict()]);
type ProbeSpec = SpecOf<typeof schema>;
interface ProbeRendered {
  url: string;
  method: string;
  headers: Record<string, string>;
  expect: string[];
}

/** Any target opskit probe takes (http, tcp, tls, dns, grpc, ssh, smtp: every registered prober) as a step. */
export const probeAction: Action<ProbeSpec, ProbeRendered> = {
  kind: "probe",
  schema,
  pollable: true,
  async compile(spec, context) {
    const full = typeof spec === "string" ? { url: spec } : spec;
    const url = await compileTargetUrl(full.url, "probe.url", context);
    const expect = full.expect === undefined ? [] : Array.isArray(full.expect) ? full.expect : [full.expect];
    await compileExpectations(expect, (i) => `${context.where}.probe.expect[${i}]`, expectationVariables);
    return (variables) => ({ url: url(variables), method: "GET", headers: {}, expect });
  },
  describe: (rendered) => `probe: ${rendered.url}`,
  subjects: (rendered) => [{ category: "http", label: "probe URL", url: rendered.url }],
  run: probeOnce,
};
