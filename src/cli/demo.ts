import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode, OpsError } from "../errors.ts";
import { shellQuote } from "../expr/index.ts";
import type { HealEvent } from "../heal/index.ts";
import type { IncidentRecord } from "../journal/index.ts";
import { formatMs, LineWriter, paletteFor, stdoutIsTerminal } from "../ui/index.ts";
import type { OptionsOf } from "./options.ts";
import type { demoSpec } from "./serve-spec.ts";
import { describeHealEvent, startServe } from "./serve.ts";

const SERVICES = ["api", "web", "worker"] as const;

/** How to start this same opskit again: the executable itself when compiled, bun and the entry script from source. */
export function selfCommand(): string[] {
  return Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/") ? [process.execPath] : [process.execPath, Bun.main];
}

async function freePort(): Promise<number> {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port!;
  await probe.stop(true);
  return port;
}

/** The demo's opskit.yaml: a check per service, a rule that restarts whichever one is down. */
export function demoConfig(ports: Record<string, number>, dir: string): string {
  const checks = SERVICES.map(
    (name) => `  - name: ${name}-health
    probe: http://127.0.0.1:${ports[name]}/health
    expect: ['status == 200']
    interval: 500ms
    timeout: 400ms
    failureThreshold: 2
    successThreshold: 2
    labels: { alertname: ServiceDown, service: ${name}, severity: critical }
    annotations: { summary: "${name} does not answer its health check" }`,
  );
  return `# Written by opskit demo: three services, a health check each, one rule.
vars:
  ports: { ${SERVICES.map((n) => `${n}: ${ports[n]}`).join(", ")} }
  logdir: ${JSON.stringify(dir)}
  launcher: ${JSON.stringify(join(dir, "start-service.sh"))}
server:
  listen: 127.0.0.1:0
  drainTimeout: 5s
checks:
${checks.join("\n")}
workflows:
  restart-service:
    description: start a demo service again and wait until it answers
    targets: local
    steps:
      - name: start
        exec: "setsid {{ vars.launcher }} --name {{ vars.service }} --listen 127.0.0.1:{{ string(vars.ports[vars.service]) }} >> {{ vars.logdir + '/' + vars.service + '.log' }} 2>&1 < /dev/null & echo $! > {{ vars.logdir + '/' + vars.service + '.pid' }}"
        timeout: 10s
      - name: healthy
        wait:
          probe: { url: "http://127.0.0.1:{{ string(vars.ports[vars.service]) }}/health", expect: 'status == 200' }
          until: ok
          timeout: 15s
          interval: 200ms
rules:
  - name: restart-down-service
    match: { alertname: ServiceDown, severity: critical }
    run: restart-service
    vars: { service: "{{ alert.labels.service }}" }
    cooldown: 30s
    maxAttempts: 2
    verify: { alertResolved: true, timeout: 30s }
`;
}

function summarize(incident: IncidentRecord, out: LineWriter, bold: (s: string) => string): void {
  const m = incident.milestones;
  const span = (from: number | undefined, to: number | undefined) => (from !== undefined && to !== undefined ? formatMs(to - from) : "-");
  out.line(bold(`incident ${incident.id} (${incident.title} ${incident.labels.service ?? ""}) closed: ${incident.resolution}`));
  out.line(`  time to detect      ${span(m.started, m.detected).padStart(8)}   first failed probe → alert raised`);
  out.line(`  time to remediate   ${span(m.detected, m.remediation_started).padStart(8)}   alert → runbook started`);
  out.line(`  runbook             ${span(m.remediation_started, m.remediated).padStart(8)}   restart and wait until healthy`);
  out.line(`  verification        ${span(m.remediated, m.verified).padStart(8)}   the check passes again, the alert resolves`);
  out.line(`  time to resolve     ${span(m.started, m.resolved).padStart(8)}   first failed probe → incident closed (MTTR)`);
}

/**
 * `opskit demo`: three services on loopback, an opskit server with checks
 * and a rule, one service killed; the alert, the remediation, the
 * verification and the closed incident are shown as they happen. Nothing
 * but opskit and its embedded journal; everything is stopped at the end.
 */
export async function demoCommand(_args: string[], options: OptionsOf<typeof demoSpec>, version: string): Promise<number> {
  const out = new LineWriter();
  const palette = paletteFor({ isTTY: stdoutIsTerminal() });
  const say = (line: string) => {
    out.line(line);
    out.flush();
  };
  const dir = mkdtempSync(join(tmpdir(), "opskit-demo-"));
  const { keep } = options;
  const services = new Map<string, ReturnType<typeof Bun.spawn>>();
  const ports: Record<string, number> = {};
  for (const name of SERVICES) ports[name] = await freePort();
  const startService = (name: string) => {
    const child = Bun.spawn([...selfCommand(), "demo-service", "--name", name, "--listen", `127.0.0.1:${ports[name]}`], { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
    services.set(name, child);
    return child;
  };
  let handle: Awaited<ReturnType<typeof startServe>> | undefined;
  const started = Date.now();
  try {
    for (const name of SERVICES) startService(name);
    writeFileSync(join(dir, "opskit.yaml"), demoConfig(ports, dir));
    writeFileSync(join(dir, "start-service.sh"), `#!/bin/sh\nexec ${selfCommand().map(shellQuote).join(" ")} demo-service "$@"\n`, { mode: 0o755 });
    say(palette.bold(`opskit demo: services ${SERVICES.map((n) => `${n} (:${ports[n]})`).join(", ")}; config and journal in ${dir}`));
    const { loadConfig } = await import("../config/index.ts");
    const loaded = await loadConfig({ cwd: dir, path: dir });
    let resolvedIncident: ((incidentId: number) => void) | undefined;
    const closed = new Promise<number>((resolve) => (resolvedIncident = resolve));
    const onEvent = (event: HealEvent) => {
      const text = describeHealEvent(event);
      if (text) say(`${formatMs(Date.now() - started).padStart(7)}  ${text}`);
      // The incident is read back through the API once it closed, not from inside the sink.
      if (event.type === "incident.resolved") resolvedIncident?.(event.incidentId);
    };
    const journal = join(dir, "journal.db");
    handle = await startServe(loaded, { listen: "127.0.0.1:0", journal, dryRun: false, version, onEvent, notice: (line) => say(`${formatMs(Date.now() - started).padStart(7)}  ${line}`) });
    say(`${formatMs(Date.now() - started).padStart(7)}  opskit serve on ${handle.url}: 3 checks every 500ms, rule restart-down-service`);
    await waitUntil(async () => (await Promise.all(SERVICES.map((n) => healthy(ports[n]!)))).every(Boolean), 15_000, "the demo services did not come up");
    say(`${formatMs(Date.now() - started).padStart(7)}  all services healthy`);
    await Bun.sleep(1200);
    const victim = services.get("api")!;
    say(palette.bold(`${formatMs(Date.now() - started).padStart(7)}  breaking api: kill -9 ${victim.pid}`));
    victim.kill("SIGKILL");
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new OpsError({ code: "E_DEMO_TIMEOUT", message: "the incident did not close within 60s", hint: `see the journal in ${dir}`, exitCode: ExitCode.check })), 60_000).unref());
    const closedIncident = await Promise.race([closed, timeout]);
    // Read back through the API, with this server's own token: not $OPSKIT_TOKEN, which belongs to some other server.
    const { callServer } = await import("./incidents.ts");
    const view = (await callServer({ server: handle.url }, "GET", `/api/v1/incidents/${closedIncident}`, undefined, handle.token)) as { incident: IncidentRecord };
    say("");
    summarize(view.incident, out, palette.bold);
    say(`  journal: ${journal}${keep ? "" : " (removed at exit; --keep keeps it)"}`);
    return ExitCode.ok;
  } finally {
    await handle?.shutdown(2000);
    // Every demo-service process, including the one the runbook started, listens on a demo port.
    for (const child of services.values()) child.kill("SIGTERM");
    stopRestartedServices(dir);
    out.flush();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(500) });
    return response.status === 200;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await Bun.sleep(100);
  }
  throw new OpsError({ code: "E_DEMO_TIMEOUT", message: what, exitCode: ExitCode.internal });
}

/** The services the runbook started are not our children: their pids are in the demo dir. */
function stopRestartedServices(dir: string): void {
  for (const name of SERVICES) {
    const file = join(dir, `${name}.pid`);
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, "utf8").trim());
    try {
      if (pid > 0) process.kill(pid, "SIGTERM");
    } catch {}
  }
}
