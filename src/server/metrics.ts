import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RunEvent } from "../engine/index.ts";
import type { Denial } from "../policy/index.ts";
import type { HealEvent } from "../heal/index.ts";
import { LabeledCounter, LabeledHistogram } from "./counts.ts";

export interface ServerMetrics {
  registry: Registry;
  heal(event: HealEvent): void;
  run(event: RunEvent): void;
  request(endpoint: string, code: number, seconds: number): void;
}

/**
 * The server's Prometheus metrics. Counters follow the events, so what
 * /metrics says and what the journal records come from the same stream.
 */
/** What the gauges read at scrape time; the journal answers asynchronously. */
export interface LiveState {
  openIncidents(): number | Promise<number>;
  runningRemediations(): number;
  paused(): boolean | Promise<boolean>;
  checks(): { name: string; status: string; lastTimings?: Record<string, number>; tlsNotAfter?: number }[];
  /** This replica's view of the cluster (opskit serve always has one). */
  cluster?(): { replicas: number; leader: boolean; epoch: number; checksOwned: number };
}

export function serverMetrics(live: LiveState): ServerMetrics {
  const registry = new Registry();
  // prom-client's standard names under the opskit_ prefix: opskit_process_cpu_seconds_total, opskit_nodejs_heap_size_used_bytes.
  collectDefaultMetrics({ register: registry, prefix: "opskit_" });
  // Under Bun, v8.getHeapSpaceStatistics() walks the whole heap: these three cost 25 ms a scrape at a million
  // objects (0.7 ms for everything else), time the event loop stops for. opskit_nodejs_heap_size_*_bytes stay.
  for (const space of ["total", "used", "available"]) registry.removeSingleMetric(`opskit_nodejs_heap_space_size_${space}_bytes`);
  // Counted once per alert or request: counts.ts's, which cost a Map lookup where prom-client's validate and hash the labels.
  const alerts = new LabeledCounter("opskit_alerts_received_total", "Alerts applied to incidents, by source, status and outcome (opened, repeat, resolved, stale, orphan).", ["source", "status", "outcome"]);
  const requests = new LabeledCounter("opskit_http_requests_total", "API and webhook requests by endpoint and status code.", ["endpoint", "code"]);
  const latency = new LabeledHistogram("opskit_http_request_duration_seconds", "API and webhook response time by endpoint.", "endpoint", [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]);
  // prom-client's registry takes any metric with get() and reset(); its type names only its own classes.
  for (const metric of [alerts, requests, latency]) registry.registerMetric(metric as unknown as Counter);
  const opened = new Counter({ name: "opskit_incidents_opened_total", help: "Incidents opened, by matching rule (none when no rule matched).", labelNames: ["rule"], registers: [registry] });
  const resolved = new Counter({ name: "opskit_incidents_resolved_total", help: "Incidents resolved, by how (alert, probe, hand, stale).", labelNames: ["how"], registers: [registry] });
  const remediations = new Counter({ name: "opskit_remediations_total", help: "Remediation attempts finished, by rule and status.", labelNames: ["rule", "status"], registers: [registry] });
  const remediationTime = new Histogram({ name: "opskit_remediation_duration_seconds", help: "Remediation attempt duration (run and verification), by rule.", labelNames: ["rule"], buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600], registers: [registry] });
  const gates = new Counter({ name: "opskit_gate_decisions_total", help: "Safety gate decisions that held a remediation back, by gate.", labelNames: ["gate"], registers: [registry] });
  const escalations = new Counter({ name: "opskit_escalations_total", help: "Incidents escalated, by rule.", labelNames: ["rule"], registers: [registry] });
  const disabled = new Counter({ name: "opskit_rules_disabled_total", help: "Rules disabled by their circuit breaker.", labelNames: ["rule"], registers: [registry] });
  const steps = new Counter({ name: "opskit_run_steps_total", help: "Workflow steps finished in remediation and escalation runs, by action and status.", labelNames: ["action", "status"], registers: [registry] });
  const denials = new Counter({
    name: "opskit_policy_denials_total",
    help: "Actions refused before they ran by a workflow's permissions or the policy file, by workflow and kind (commands, sudo, http, hosts, require).",
    labelNames: ["workflow", "kind"],
    registers: [registry],
  });
  const lag = new Gauge({ name: "opskit_notification_processing_lag_seconds", help: "Age of the oldest notification in the last processed batch.", registers: [registry] });
  new Gauge({ name: "opskit_incidents_open", help: "Incidents open now.", registers: [registry], async collect() { this.set(await live.openIncidents()); } });
  new Gauge({ name: "opskit_remediations_running", help: "Remediations running now.", registers: [registry], collect() { this.set(live.runningRemediations()); } });
  new Gauge({ name: "opskit_paused", help: "1 while automatic remediation is paused.", registers: [registry], async collect() { this.set((await live.paused()) ? 1 : 0); } });
  new Gauge({
    name: "opskit_check_up",
    help: "1 while a check passes, 0 while it fails or fires.",
    labelNames: ["check"],
    registers: [registry],
    collect() {
      this.reset();
      for (const check of live.checks()) if (check.status !== "unknown") this.set({ check: check.name }, check.status === "passing" ? 1 : 0);
    },
  });
  // As blackbox_exporter's probe_http_duration_seconds{phase} and probe_ssl_earliest_cert_expiry, per check.
  new Gauge({
    name: "opskit_check_duration_seconds",
    help: "The last probe of a check: the seconds each phase took (dns, connect, proxy, tls, firstByte, transfer) and its total.",
    labelNames: ["check", "phase"],
    registers: [registry],
    collect() {
      this.reset();
      for (const check of live.checks()) for (const [phase, ms] of Object.entries(check.lastTimings ?? {})) this.set({ check: check.name, phase }, ms / 1000);
    },
  });
  new Gauge({
    name: "opskit_check_tls_expiry_timestamp_seconds",
    help: "When the chain a check's last probe saw stops being valid, in Unix seconds: the earliest expiry of the certificates the server presented, its own or an intermediate's (checks of TLS targets).",
    labelNames: ["check"],
    registers: [registry],
    collect() {
      this.reset();
      for (const check of live.checks()) if (check.tlsNotAfter !== undefined) this.set({ check: check.name }, check.tlsNotAfter / 1000);
    },
  });

  const cluster = live.cluster;
  if (cluster) {
    new Gauge({ name: "opskit_cluster_replicas", help: "Replicas live now (heartbeat within the lease), this one included.", registers: [registry], collect() { this.set(cluster().replicas); } });
    new Gauge({ name: "opskit_cluster_leader", help: "1 on the replica that holds the leader lease (sweeps and timers run there).", registers: [registry], collect() { this.set(cluster().leader ? 1 : 0); } });
    new Gauge({ name: "opskit_cluster_epoch", help: "The leader lease's epoch while this replica leads (fencing token), else 0.", registers: [registry], collect() { this.set(cluster().epoch); } });
    new Gauge({ name: "opskit_cluster_checks_owned", help: "Checks this replica runs now (it holds their leases).", registers: [registry], collect() { this.set(cluster().checksOwned); } });
  }

  const howResolved = (resolution: string) => (resolution.startsWith("alert") ? "alert" : resolution.startsWith("verified") ? "probe" : resolution.startsWith("resolved by hand") ? "hand" : "stale");

  return {
    registry,
    heal(event) {
      switch (event.type) {
        case "alert.received":
          alerts.inc(event.source, event.status, event.outcome);
          return;
        case "incident.opened":
          opened.inc({ rule: event.rule ?? "none" });
          return;
        case "incident.resolved":
          resolved.inc({ how: howResolved(event.resolution) });
          return;
        case "incident.gate":
          gates.inc({ gate: event.gate });
          return;
        case "incident.silenced":
          gates.inc({ gate: "silence" });
          return;
        case "remediation.finished":
          remediations.inc({ rule: event.rule, status: event.status });
          remediationTime.observe({ rule: event.rule }, event.durationMs / 1000);
          return;
        case "incident.escalated":
          escalations.inc({ rule: event.rule ?? "none" });
          return;
        case "rule.disabled":
          disabled.inc({ rule: event.rule });
          return;
        case "notifications.processed":
          lag.set(event.lagMs / 1000);
          return;
      }
    },
    run(event) {
      if (event.type !== "step.finished") return;
      steps.inc({ action: event.action, status: event.status });
      if (event.result.error?.code === "E_POLICY_DENIED") {
        const denial = event.result.data?.denial as Partial<Denial> | undefined;
        denials.inc({ workflow: denial?.workflow ?? "unknown", kind: denial?.kind ?? "unknown" });
      }
    },
    request(endpoint, code, seconds) {
      requests.inc(endpoint, String(code));
      latency.observe(endpoint, seconds);
    },
  };
}
