import { describe, expect, test } from "bun:test";
import { context, trace, TraceFlags } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { createServerLog, maskLine, traceFields } from "./log.ts";
import { registerSecret } from "./redact.ts";

function capture(): { lines: string[]; write: (line: string) => void; json: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  return { lines, write: (line) => lines.push(line), json: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe("server log, json", () => {
  test("each line is one JSON object with level, time and msg; lines below the level are dropped", async () => {
    const out = capture();
    const log = await createServerLog({ format: "json", level: "warn", destination: out.write });
    log.info("not shown");
    log.debug("not shown either");
    log.warn("disk almost full", { freeBytes: 1024 });
    log.error("boom");
    expect(out.lines.every((line) => line.endsWith("\n") && line.indexOf("\n") === line.length - 1)).toBe(true);
    const [warn, error] = out.json();
    expect(out.lines.length).toBe(2);
    expect(warn).toMatchObject({ level: "warn", msg: "disk almost full", freeBytes: 1024 });
    expect(new Date(warn!.time as string).toISOString()).toBe(warn!.time as string);
    expect(error).toMatchObject({ level: "error", msg: "boom" });
    expect(log.enabled("info")).toBe(false);
    expect(log.enabled("warn")).toBe(true);
  });

  test("a registered secret never appears: in the message, nested fields, an error's message and stack, escaped by JSON", async () => {
    const secret = `s3cr3t-${crypto.randomUUID()}`;
    const quoted = `pa"ss\\word-${crypto.randomUUID().slice(0, 8)}`;
    registerSecret(secret);
    registerSecret(quoted);
    const out = capture();
    const log = await createServerLog({ format: "json", level: "trace", destination: out.write });
    const error = new Error(`connect failed with token ${secret}`);
    log.error(`internal error for ${secret}`, { err: error, request: { headers: { authorization: `Bearer ${secret}` }, list: [quoted] } });
    log.info(`quoted ${quoted}`);
    const text = out.lines.join("");
    expect(text).not.toContain(secret);
    expect(text).not.toContain(quoted);
    expect(text).not.toContain(JSON.stringify(quoted).slice(1, -1));
    const [line, second] = out.json();
    expect(line!.msg).toBe("internal error for ***");
    expect((line!.err as { message: string; stack: string }).message).toBe("connect failed with token ***");
    expect((line!.err as { stack: string }).stack).toContain("connect failed with token ***");
    expect(line!.request).toEqual({ headers: { authorization: "Bearer ***" }, list: ["***"] });
    expect(second!.msg).toBe("quoted ***");
  });

  test("a record carrying a traceId gets trace_id and span_id; a line written under an active span gets that span's", async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    // Another test file may have registered one already; either propagates context.
    context.setGlobalContextManager(manager);
    const out = capture();
    const log = await createServerLog({ format: "json", level: "info", destination: out.write });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    log.info("incident 7 opened", { type: "incident.opened", traceId });
    log.info("with span", { traceId, spanId: "00f067aa0ba902b7" });
    const spanContext = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED };
    context.with(trace.setSpanContext(context.active(), spanContext), () => log.info("inside a span"));
    log.info("outside any span");
    const [opened, withSpan, inside, outside] = out.json();
    expect(opened).toMatchObject({ trace_id: traceId, msg: "incident 7 opened" });
    expect(opened!.span_id).toBeUndefined();
    expect(withSpan).toMatchObject({ trace_id: traceId, span_id: "00f067aa0ba902b7" });
    expect(inside).toMatchObject({ trace_id: spanContext.traceId, span_id: spanContext.spanId, trace_flags: "01" });
    expect(outside!.trace_id).toBeUndefined();
  });

  test("trace fields ignore ids that are not W3C ids", () => {
    const none = () => undefined;
    expect(traceFields({ traceId: "not-an-id" }, none)).toEqual({});
    expect(traceFields({ traceId: "0".repeat(32) }, none)).toEqual({});
    expect(traceFields({}, () => ({ traceId: "0".repeat(32), spanId: "0".repeat(16), traceFlags: 0 }))).toEqual({});
  });

  test("maskLine leaves a line without secrets as it is", () => {
    const line = `{"level":"info","msg":"a \\"quoted\\" word"}\n`;
    expect(maskLine(line)).toBe(line);
  });
});

describe("server log, text", () => {
  test("lines as given, an error's stack after the message, secrets masked, below the level dropped", async () => {
    const secret = `txt-${crypto.randomUUID()}`;
    registerSecret(secret);
    const out = capture();
    const log = await createServerLog({ format: "text", level: "info", destination: out.write });
    log.debug("hidden");
    log.info(`opskit serve: token ${secret}`);
    log.error("opskit serve: internal error", { err: new Error(`bad ${secret}`) });
    expect(out.lines.length).toBe(2);
    expect(out.lines[0]).toBe("opskit serve: token ***");
    expect(out.lines[1]).toStartWith("opskit serve: internal error: Error: bad ***\n    at ");
    expect(out.lines.join("\n")).not.toContain(secret);
    const quiet = capture();
    const warnOnly = await createServerLog({ format: "text", level: "warn", destination: quiet.write });
    warnOnly.info("dropped");
    warnOnly.warn("kept");
    expect(quiet.lines).toEqual(["kept"]);
  });
});

describe("startup", () => {
  test("opskit probe loads neither pino nor OpenTelemetry", () => {
    const main = new URL("../cli/main.ts", import.meta.url).pathname;
    const script = `const { main } = await import(${JSON.stringify(main)}); await main(["probe", "tcp://127.0.0.1:9"]); console.log(JSON.stringify(Object.keys(require.cache).filter((path) => /node_modules\\/(pino|@opentelemetry)\\//.test(path))));`;
    const child = Bun.spawnSync([process.execPath, "-e", script], { stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    expect(JSON.parse(child.stdout.toString().trim().split("\n").at(-1)!)).toEqual([]);
  });

  test("the check sees pino once a json log is opened", () => {
    const log = new URL("./log.ts", import.meta.url).pathname;
    const script = `const { createServerLog } = await import(${JSON.stringify(log)}); await createServerLog({ format: "json", destination: () => undefined }); console.log(JSON.stringify(Object.keys(require.cache).filter((path) => /node_modules\\/pino\\//.test(path)).length > 0));`;
    const child = Bun.spawnSync([process.execPath, "-e", script], { stderr: "pipe" });
    expect(child.stdout.toString().trim().split("\n").at(-1)).toBe("true");
  });
});
