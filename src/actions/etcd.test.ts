import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { compileTemplate } from "../expr/index.ts";
import { createSchemaKit } from "../schema/index.ts";
import { etcdAction, splitEndpoints, type EtcdRendered } from "./etcd.ts";
import { scopeVariables } from "./variables.ts";

// The etcd action's config and rendering; its work on a real cluster is test/etcd.test.ts.

const schema = etcdAction.schema(createSchemaKit(z));

async function render(spec: Record<string, unknown>, vars: Record<string, unknown> = {}, target: Record<string, unknown> = { address: "10.0.0.9" }): Promise<EtcdRendered> {
  const parsed = schema.parse(spec);
  const renderer = await etcdAction.compile(parsed, {
    where: "workflows.w.steps[0]",
    baseDir: "/etc/opskit",
    variables: scopeVariables,
    compileTemplate: (source, where, escape) => compileTemplate(source, where, scopeVariables, escape),
  });
  return renderer({ vars, target, env: {}, steps: {} });
}

describe("etcd action config", () => {
  test("a step takes exactly one operation, and a username only with its password", () => {
    expect(schema.safeParse({ status: {} }).success).toBe(true);
    expect(schema.safeParse({ alarm: "disarm" }).success).toBe(true);
    expect(schema.safeParse({}).success).toBe(false);
    expect(schema.safeParse({ status: {}, defrag: {} }).success).toBe(false);
    expect(schema.safeParse({ alarm: "clear" }).success).toBe(false);
    expect(schema.safeParse({ status: {}, username: "root" }).success).toBe(false);
    expect(schema.safeParse({ status: {}, username: "root", password: "hunter2" }).success).toBe(false);
    expect(schema.safeParse({ status: {}, username: "root", password: "env:ETCD_PASSWORD" }).success).toBe(true);
    expect(schema.safeParse({ status: {}, disarmBelow: 1.5 }).success).toBe(false);
  });

  test("defrag's defaults: compact, leader last without a handover, 5 s between members", async () => {
    const rendered = await render({ endpoints: ["http://10.0.0.1:2379"], defrag: {} });
    expect(rendered.operation).toEqual({ kind: "defrag", compact: true, moveLeader: false, pauseMs: 5000, defragTimeoutMs: 300_000, healthTimeoutMs: 60_000, disarm: true });
    expect(rendered.quotaBytes).toBe(2 * 1024 ** 3);
    expect(etcdAction.describe(rendered)).toBe("etcd: defrag one member at a time, leader last, pause 5s, after compacting via http://10.0.0.1:2379");
  });
});

describe("etcd action rendering", () => {
  test("endpoints from a list var, a comma-separated string or the target's address", async () => {
    const list = ["http://10.0.0.1:2379", "http://10.0.0.2:2379/"];
    expect((await render({ endpoints: "{{ vars.eps }}", status: {} }, { eps: list })).endpoints).toEqual(["http://10.0.0.1:2379", "http://10.0.0.2:2379"]);
    expect((await render({ endpoints: "http://a:2379, http://b:2379", status: {} })).endpoints).toEqual(["http://a:2379", "http://b:2379"]);
    expect((await render({ status: {} })).endpoints).toEqual(["http://10.0.0.9:2379"]);
    expect((await render({ status: {}, tls: { ca: "ca.pem" } }, {}, { address: "::1" })).endpoints).toEqual(["https://[::1]:2379"]);
    expect((await render({ status: {}, tls: { ca: "ca.pem", cert: "/abs/c.pem" } })).tls).toEqual({ ca: "/etc/opskit/ca.pem", cert: "/abs/c.pem" });
  });

  test("a rendered endpoint that is not a bare client URL fails the step before any request", async () => {
    for (const value of ["http://10.0.0.1:2379/v3/kv/put", "http://evil:1?x", "$(touch /tmp/opskit-pwned)", '["http://a:1", 5]', "[not json", ""]) {
      await expect(render({ endpoints: "{{ vars.e }}", status: {} }, { e: value })).rejects.toMatchObject({ code: "E_ETCD_ENDPOINT" });
    }
    expect(() => splitEndpoints(Array.from({ length: 17 }, (_, i) => `http://10.0.0.${i}:2379`), "e")).toThrow(/more than 16/);
  });

  test("moveLeader's member is rendered from a var, as text", async () => {
    const rendered = await render({ endpoints: "http://a:2379", moveLeader: { to: "{{ vars.member }}" } }, { member: "etcd-2; $(reboot)" });
    expect(rendered.operation).toEqual({ kind: "moveLeader", to: "etcd-2; $(reboot)", waitMs: 30_000 });
    expect((await render({ endpoints: "http://a:2379", moveLeader: {} })).operation).toEqual({ kind: "moveLeader", waitMs: 30_000 });
  });

  test("quotaBytes from a var must render to a number of bytes", async () => {
    expect((await render({ endpoints: "http://a:2379", quotaBytes: "{{ vars.q }}", status: {} }, { q: 67108864 })).quotaBytes).toBe(67108864);
    await expect(render({ endpoints: "http://a:2379", quotaBytes: "{{ vars.q }}", status: {} }, { q: "1e9" })).rejects.toMatchObject({ code: "E_ETCD_QUOTA" });
  });

  test("a username that a template renders to env:NAME is a name, not a secret reference", async () => {
    const rendered = await render({ endpoints: "http://a:2379", username: "{{ vars.u }}", password: "env:P", status: {} }, { u: "env:HOME" });
    expect(rendered.username).toEqual({ value: "env:HOME" });
    expect((await render({ endpoints: "http://a:2379", username: "env:U", password: "env:P", status: {} })).username).toEqual({ reference: "env:U" });
  });

  test("the permission subjects are each endpoint with each gateway path the operation calls, authentication included", async () => {
    const status = await render({ endpoints: "http://a:2379,http://b:2379", status: {} });
    const urls = (await etcdAction.subjects(status, { baseDir: "/" })).map((s) => (s as { url: string }).url);
    expect(urls).toContain("http://a:2379/v3/maintenance/status");
    expect(urls).toContain("http://b:2379/v3/cluster/member/list");
    expect(urls.some((u) => u.endsWith("/v3/maintenance/defragment"))).toBe(false);
    const defrag = await render({ endpoints: "http://a:2379", username: "root", password: "env:P", defrag: { moveLeader: true } });
    const defragUrls = (await etcdAction.subjects(defrag, { baseDir: "/" })).map((s) => (s as { url: string }).url);
    for (const path of ["/v3/auth/authenticate", "/v3/maintenance/defragment", "/v3/kv/compaction", "/v3/maintenance/transfer-leadership", "/v3/maintenance/alarm"]) expect(defragUrls).toContain(`http://a:2379${path}`);
    expect(defragUrls.some((u) => u.endsWith("/v3/kv/put") || u.endsWith("/v3/kv/deleterange"))).toBe(false);
  });
});
