import type { AgentAlert, AgentConfigInput, AgentPlan, CompiledAgent } from "../agent/index.ts";
import { describeError, ExitCode, isOpsError, OpsError } from "../errors.ts";
import { redact, registerSecret } from "../observe/index.ts";
import { eventJsonLine } from "../ui/index.ts";
import type { agentSpec } from "./agent-spec.ts";
import { configLoadOptions } from "./config-options.ts";
import type { OptionsOf } from "./options.ts";
import { metricsIntervalMs, resolveOtlpExport } from "./otlp-config.ts";

/** Compiles agent:; a CEL or template error from the config is an invalid config (65), as opskit validate says it. */
export async function compileAgentConfig(loaded: AgentConfigInput): Promise<CompiledAgent> {
  const { compileAgent } = await import("../agent/index.ts");
  try {
    return await compileAgent(loaded);
  } catch (error) {
    if (isOpsError(error) && error.exitCode === ExitCode.usage) throw new OpsError({ code: error.code, message: error.message, hint: error.hint, exitCode: ExitCode.config, cause: error });
    throw error;
  }
}

/** agent.server.token, resolved and masked from every line. */
async function resolveToken(agent: CompiledAgent): Promise<string | undefined> {
  const reference = agent.settings.server?.token;
  if (!reference) return undefined;
  const { resolveSecret } = await import("../schema/index.ts");
  const token = (await resolveSecret(reference, `${agent.where(["server", "token"])}: agent.server.token`)).trim();
  registerSecret(token);
  return token;
}

const stderr = (line: string) => console.error(redact(line));

/** What the config thread answers: the agent's plan, the config's error, or a failure of its own (a bug). */
export type ConfigThreadAnswer = { plan: AgentPlan } | { error: { code: string; message: string; hint: string | undefined; exitCode: ExitCode } } | { failure: { message: string; stack: string | undefined } };

/** In a standalone executable the thread is an embedded entry point, named relative to the bundle's root (src/cli); from source it sits beside this file. */
function configThreadUrl(): string {
  return import.meta.url.includes("$bunfs") ? "./agent-config-thread.ts" : new URL("./agent-config-thread.ts", import.meta.url).href;
}

/**
 * Loads and checks agent: (and observability:) in a thread of its own that
 * ends once it answered, so that what only checking needs (the YAML library,
 * zod, the schemas) never enters this heap: measured, 3 MB less anonymous
 * memory idle, 1 to 2 MB after a minute at 1,000 log lines/s (the heap then
 * grows into the room). Errors are the config's, at file:line:col.
 */
async function loadAgentPlan(options: OptionsOf<typeof agentSpec>): Promise<AgentPlan> {
  const thread = new Worker(configThreadUrl());
  try {
    const answer = await new Promise<ConfigThreadAnswer>((resolve, reject) => {
      thread.onmessage = (event: MessageEvent<ConfigThreadAnswer>) => resolve(event.data);
      thread.onerror = (event) => reject(new Error(`the agent's config thread failed: ${event.message}`));
      thread.addEventListener("close", () => reject(new Error("the agent's config thread ended without an answer")));
      thread.postMessage(configLoadOptions(options));
    });
    if ("error" in answer) throw new OpsError(answer.error);
    if ("failure" in answer) throw Object.assign(new Error(answer.failure.message), { stack: answer.failure.stack });
    return answer.plan;
  } finally {
    thread.terminate();
  }
}

/** `opskit agent`: runs until SIGTERM or Ctrl-C; `--once` reads, evaluates and prints. */
export async function agentCommand(_args: string[], options: OptionsOf<typeof agentSpec>, version: string): Promise<number> {
  const footprint = await import("../agent/index.ts");
  footprint.setJitPolicy(footprint.AGENT_JIT_POLICY);
  // agent: and observability: checked; the rest of the file is opskit validate's to check.
  const plan = await loadAgentPlan(options);
  (await import("../schema/index.ts")).registerReferencedSecrets(plan.written);
  const { agent, where } = await footprint.agentFromPlan(plan);
  const loaded = { config: { observability: plan.observability }, where };
  if (options.listen !== undefined) agent.settings.listen = options.listen;
  if (options.send && !options.once) throw new OpsError({ code: "E_USAGE", message: "--send goes with --once (a running agent always sends)", hint: "opskit agent --once --send", exitCode: ExitCode.usage });
  if (options.once) return agentOnce(agent, options);
  const token = await resolveToken(agent);
  const metricsExport = await resolveOtlpExport("metrics", loaded);
  const { startAgent } = await import("../agent/index.ts");
  const print = (event: { type: string } & Record<string, unknown>, text: string) => console.log(options.json ? eventJsonLine(event) : text);
  const handle = await startAgent(agent, {
    version,
    ...(token ? { token } : {}),
    notice: options.json ? (line) => console.log(eventJsonLine({ type: "agent.notice", message: redact(line.replace(/^opskit agent: /, "")) })) : stderr,
    ...(metricsExport ? { otlp: { settings: metricsExport, intervalMs: metricsIntervalMs(loaded) } } : {}),
  });
  const server = agent.settings.server!.url;
  const names = agent.sources.map((s) => `${s.name} (${s.kind})`);
  print(
    { type: "agent.started", server, sources: agent.sources.map((s) => s.name), rules: agent.rules.length, ...(handle.url ? { metrics: `${handle.url}/metrics` } : {}), spooled: handle.spooledAtStart },
    `opskit agent: ${names.length} source${names.length === 1 ? "" : "s"}${names.length ? ` (${names.join(", ")})` : ""} · ${agent.rules.length} rule${agent.rules.length === 1 ? "" : "s"} · alerts to ${server}${handle.url ? ` · metrics on ${handle.url}/metrics` : ""}${handle.spooledAtStart ? ` · ${handle.spooledAtStart} alerts spooled from before` : ""}`,
  );
  // Started: the pages of the executable that only starting touched go back to the kernel.
  await footprint.releaseStartupPages();
  return new Promise((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        stderr("opskit agent: second signal, exiting now; alerts not yet spooled are lost");
        process.exit(ExitCode.interrupted);
      }
      stopping = true;
      try {
        const { spooled } = await handle.stop();
        print({ type: "agent.stopped", signal, spooled }, `opskit agent: ${signal}: stopped${spooled ? `; ${spooled} alerts spooled for the next start` : ""}`);
        resolve(ExitCode.ok);
      } catch (error) {
        stderr(`opskit agent: ${describeError(error)}`);
        resolve(ExitCode.internal);
      }
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });
}

async function agentOnce(agent: CompiledAgent, options: OptionsOf<typeof agentSpec>): Promise<number> {
  const { runAgentOnce, sendAlertsOnce } = await import("../agent/index.ts");
  const result = await runAgentOnce(agent, stderr);
  for (const name of result.skipped) stderr(`opskit agent: source ${name} cannot read once; skipped`);
  let sent = false;
  if (options.send && result.alerts.length > 0) {
    const server = agent.settings.server;
    if (!server) throw new OpsError({ code: "E_AGENT_SERVER", message: `${agent.where(["server"])}: agent.server is not set: --send has nowhere to send`, hint: "set agent.server: { url, token }", exitCode: ExitCode.config });
    await sendAlertsOnce(server.url, await resolveToken(agent), result.alerts, server.timeoutMs);
    sent = true;
  }
  const events = Object.entries(result.events).map(([name, n]) => `${name}: ${n} event${n === 1 ? "" : "s"}`);
  if (options.json) {
    for (const alert of result.alerts) console.log(eventJsonLine({ type: "alert", at: alert.startsAt, rule: alert.rule, status: alert.status, labels: alert.labels, annotations: alert.annotations }));
    console.log(eventJsonLine({ type: "summary", alerts: result.alerts.length, events: result.events, sent }));
  } else {
    for (const alert of result.alerts) console.log(describeAlert(alert));
    const n = result.alerts.length;
    console.log(`${n} alert${n === 1 ? "" : "s"} ${sent ? "sent" : "would be sent"}${events.length ? ` (${events.join(", ")})` : ""}`);
  }
  return ExitCode.ok;
}

/** `firing OOMKill {alertname="OOMKill", process="stress"} (rule oom, since 12:00:01.250)` */
function describeAlert(alert: AgentAlert): string {
  const labels = Object.entries(alert.labels).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  const since = new Date(alert.startsAt).toISOString().slice(11, 23);
  return `${alert.status} ${alert.labels.alertname ?? alert.rule} {${labels.join(", ")}} (rule ${alert.rule}, since ${since})`;
}
