import { z } from "zod";
import { actions, promqlTargetSchema, type ActionKind, type ActionSpecs } from "../actions/index.ts";
import { inventorySchema as inventoryPart } from "../inventory/index.ts";
import { createSchemaKit } from "../schema/index.ts";
import { agentPart, agentRulePart } from "./agent-schema.ts";
import { observabilityPart } from "./observability-schema.ts";

export type { ActionKind };

/**
 * opskit.yaml, as a zod schema: the single source of truth for the config's
 * types, its validation errors, `opskit schema` and the docs' key tables.
 * Durations are strings ("5s", "1m30s") parsed once where they are used.
 */

const kit = createSchemaKit(z);
const { duration, labels, secretRef, becomeMethod, becomeUser } = kit;
const vars = z.record(z.string(), z.unknown());
// become: how a step switches user on its host; the command is wrapped as `sudo -n -u USER -- /bin/sh -c 'COMMAND'`.
const becomeFlagList = z.array(z.string().regex(/^-[A-Za-z0-9][A-Za-z0-9_=.,:/-]*$/, "an option such as -H or --preserve-env=PATH (one word, starting with -)"));
/** The become keys a workflow and a step share; a step's win. */
const becomeFields = {
  become: z.boolean().optional().describe("run the step's commands (ssh, script, systemd, copy) as becomeUser through becomeMethod; a step's become overrides its workflow's"),
  becomeUser: becomeUser.optional().describe("the user become switches to (default: the inventory host's or group's becomeUser, else root)"),
  becomeMethod: becomeMethod.optional().describe("sudo, doas or su (default: the inventory host's or group's becomeMethod, then defaults.becomeMethod, else sudo)"),
};
/** A count ("3") or a share of all targets ("10%"). */
const budget = z.union([z.number().int().min(0), z.string().regex(/^\d+(\.\d+)?%$/, 'a count such as 2 or a percentage such as "10%"')]);

/** `inventory:` is the inventory's own part. */
export const inventorySchema = kit.schemaOf(inventoryPart);

export const defaultsSchema = z
  .object({
    user: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    key: z.union([z.string(), z.array(z.string())]).optional().describe("private key file(s); ssh-agent is used when SSH_AUTH_SOCK is set"),
    knownHosts: z.string().optional().describe("known_hosts file (default ~/.ssh/known_hosts)"),
    hostKeyChecking: z.enum(["strict", "accept-new", "off"]).optional().describe("default strict; accept-new records unknown keys, never changed ones"),
    connectTimeout: duration.optional().describe("default 10s"),
    authTimeout: duration.optional().describe("default 10s"),
    stepTimeout: duration.optional().describe("default 5m"),
    concurrency: z.number().int().min(1).optional().describe("default 32"),
    becomeMethod: becomeMethod.optional().describe("how become steps switch user: sudo (default), doas or su"),
    becomeFlags: z
      .object({ sudo: becomeFlagList.optional(), doas: becomeFlagList.optional(), su: becomeFlagList.optional() })
      .strict()
      .optional()
      .describe("extra flags for each become method, placed after its own (sudo -n FLAGS -u USER), e.g. { sudo: [-H] }"),
  })
  .strict();

const retries = z
  .object({ attempts: z.number().int().min(1).max(100), backoff: duration.default("1s") })
  .strict();

/** The step keys the actions own, each the action's own schema: `{ exec?: ..., ssh?: ..., ... }`. */
type ActionFields = { [K in ActionKind]: z.ZodOptional<z.ZodType<ActionSpecs[K]>> };
const actionKinds = Object.keys(actions) as ActionKind[];
const actionFields = Object.fromEntries(actionKinds.map((kind) => [kind, kit.schemaOf(actions[kind].schema).optional()])) as ActionFields;

export const stepSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][\w-]*$/, "letters, digits, - and _; it names the step's result in steps.<name>").optional(),
    when: z.string().optional().describe("CEL; the step runs only when true"),
    timeout: duration.optional(),
    retries: retries.optional(),
    register: z.string().optional().describe("name for steps.<name> (default: the step name)"),
    continueOnError: z.boolean().default(false),
    changed: z.boolean().optional().describe("override whether the step reports a change"),
    ...becomeFields,
    runOnce: z.boolean().optional().describe("run once per run (on the first target that reaches it), its result recorded for every target"),
    delegate: z.literal("local").optional().describe("local: run the step on this machine, with the target's vars and labels in scope; the result is the target's"),
    ...actionFields,
  })
  .strict()
  .superRefine((step, ctx) => {
    const named = actionKinds.filter((kind) => (step as Record<string, unknown>)[kind] !== undefined);
    if (named.length !== 1) {
      ctx.addIssue({ code: "custom", message: named.length === 0 ? `a step needs one action: ${actionKinds.join(", ")}` : `a step takes one action, not ${named.join(" and ")}` });
    }
  });

const batchSize = z.union([z.number().int().min(1), z.string().regex(/^\d+(\.\d+)?%$/, 'a count such as 5 or a percentage such as "25%"')]);

export const strategySchema = z.union([
  z.object({ parallel: z.object({ concurrency: z.number().int().min(1).default(32) }).strict() }).strict(),
  z.object({
    rolling: z
      .object({
        batch: z.union([batchSize, z.array(batchSize).min(1)]).describe("batch sizes in order; the last repeats"),
        maxFailures: budget.default(0).describe("failed targets the whole run tolerates before it stops"),
        maxUnreachable: budget.optional().describe("unreachable targets tolerated, counted apart (default: maxFailures)"),
        pause: duration.optional().describe("wait between batches"),
      })
      .strict(),
  }).strict(),
]);

const stepList = z.array(stepSchema);

const share = z.string().regex(/^\d+(\.\d+)?%$/, 'a percentage such as "10%"');

/** What a workflow may do. Globs (* and ?) match the rendered command or URL whole. */
export const permissionsSchema = z
  .object({
    commands: z.array(z.string().min(1)).optional().describe("allowed commands (ssh, exec, script), e.g. ['systemctl restart api', 'journalctl *']"),
    hosts: z.string().optional().describe("selector the targets must match, e.g. role=api"),
    http: z.array(z.string().min(1)).optional().describe("allowed URLs for http, probe, wait and notify, e.g. ['https://artifacts.internal/*']"),
    kube: z.array(z.string().min(1)).optional().describe("allowed Kubernetes operations (kube), as VERB KIND/NAME or VERB NAMESPACE/KIND/NAME, e.g. ['restart deployment/*', 'scale deployment/api', 'get *']"),
    sudo: z.boolean().optional().describe("whether commands may use sudo (default false when permissions are declared)"),
  })
  .strict();

/** A legacy script run beside the workflow, compared, and the fallback when the workflow disagrees too often. */
export const shadowSchema = z
  .object({
    legacy: z.string().min(1).describe("the legacy command, or a script path relative to the config"),
    step: z.string().optional().describe("the step whose result is compared (default: the last step)"),
    share: share.default("100%").describe("share of runs that also run the legacy script"),
    maxMismatch: share.default("2%").describe("mismatch (or candidate failure) rate past which the workflow falls back to the legacy script"),
    minComparisons: z.number().int().min(1).default(20).describe("comparisons needed before the rate can trigger a fallback"),
    compare: z.array(z.enum(["stdout", "exit", "json"])).default(["stdout", "exit"]),
    normalize: z.array(z.object({ pattern: z.string().min(1), replace: z.string().default("") }).strict()).default([]).describe("regex replacements applied to both outputs before comparing"),
  })
  .strict();

/**
 * Why a cron expression is no good, or undefined. croner is the parser the
 * scheduler uses (src/schedule/); it is required here, synchronously and only
 * when a workflow has a schedule, because zod's refinements are synchronous
 * and commands that never see a schedule should not load it.
 */
function cronProblem(text: string): string | undefined {
  const fields = text.trim().split(/\s+/).length;
  const shape = 'five fields (minute hour day month weekday), or six with seconds first, e.g. "*/5 * * * *"';
  if (!text.trim().startsWith("@") && fields !== 5 && fields !== 6) return `"${text}" has ${fields} field${fields === 1 ? "" : "s"}: a cron expression has ${shape}`;
  const { Cron } = require("croner") as typeof import("croner");
  try {
    if (new Cron(text, { paused: true, mode: "5-or-6-parts", timezone: "UTC" }).nextRun() === null) return `"${text}" never matches a date`;
    return undefined;
  } catch (error) {
    const reason = (error as Error).message.replace(/^CronPattern: /, "").replace(/\.$/, "");
    return `"${text}" is not a cron expression: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`;
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const cronExpression = z
  .string()
  .superRefine((text, ctx) => {
    const problem = cronProblem(text);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** `schedule:` on a workflow: a cron expression, or the expression with its time zone, jitter, overlap and catch-up settings. */
export const scheduleSchema = z.union([
  cronExpression,
  z
    .object({
      cron: cronExpression.describe('five fields (minute hour day month weekday), or six with seconds first, e.g. "*/5 * * * *"'),
      timezone: z.string().refine(isTimeZone, 'an IANA time zone such as "UTC" or "Europe/Paris"').default("UTC").describe("the zone the cron fields are read in (default UTC, so every server computes the same times)"),
      jitter: duration.optional().describe("start each run up to this much later (the same delay on every server), e.g. 30s"),
      concurrency: z.enum(["forbid", "allow"]).default("forbid").describe("forbid: a time whose previous run is still running is recorded as skipped; allow: runs may overlap"),
      missed: z.enum(["skip", "once"]).default("skip").describe("times that passed while no server was up: skip them, or run once for the latest"),
    })
    .strict(),
]);

export const workflowSchema = z
  .object({
    description: z.string().optional(),
    targets: z.string().default("local").describe('selector over the inventory, or "local"'),
    vars: vars.default({}),
    strategy: strategySchema.default({ parallel: { concurrency: 32 } }),
    ...becomeFields,
    maxFailures: budget.optional().describe("failure budget under the parallel strategy"),
    maxUnreachable: budget.optional(),
    hooks: z
      .object({ pre: stepList.default([]), post: stepList.default([]), on_failure: stepList.default([]), rollback: stepList.default([]) })
      .strict()
      .default({ pre: [], post: [], on_failure: [], rollback: [] }),
    steps: stepList.min(1, "a workflow needs at least one step"),
    permissions: permissionsSchema.optional().describe("what the workflow may do; every action is checked just before it runs"),
    shadow: shadowSchema.optional().describe("run a legacy script beside a share of runs and compare, falling back to it past a mismatch threshold"),
    schedule: scheduleSchema.optional().describe('run on a schedule under opskit serve: "*/5 * * * *", or { cron, timezone, jitter, concurrency, missed }; each time runs once across servers'),
  })
  .strict();

const selfHealing = {
  labels: labels.default({}).describe("labels the alert carries, e.g. { service: api, severity: critical }"),
  annotations: labels.default({}).describe("annotations the alert carries, e.g. { summary: ... }"),
};

/**
 * How a configured probe talks to its target (checks, /probe modules): the
 * same choices as opskit probe's -L, --max-redirs, --proxy, --noproxy and
 * TLS files (ProbeClientFields).
 */
export const probeClientFields = {
  followRedirects: z.boolean().optional().describe("follow HTTP redirects as curl -L does (default false: a 3xx is the answer); every hop is in the result as redirects"),
  maxRedirects: z.number().int().min(-1).optional().describe("with followRedirects, follow at most this many (default 50, -1 no limit); one more fails the probe"),
  proxy: z
    .string()
    .refine((value) => !/^[a-z][a-z0-9+.-]*:\/\/[^/?#@]*:[^/?#@]*@/i.test(value), "no password in the config: give the proxy URL as a reference, env:NAME or file:/path")
    .optional()
    .describe('HTTP proxy for http(s):// targets, http://HOST:PORT, or a reference (env:NAME, file:/path) to a URL with credentials; "" for none (default: http_proxy, https_proxy, HTTPS_PROXY and no_proxy as curl reads them)'),
  noProxy: z.union([z.string(), z.array(z.string())]).optional().describe("hosts that bypass the proxy: names (and their subdomains), IPs, CIDR ranges, or *"),
  tls: z
    .object({
      ca: z.string().min(1).optional().describe("PEM file of CA certificates to trust (relative to the config)"),
      cert: z.string().min(1).optional().describe("client certificate (PEM) for servers that require one (mTLS)"),
      key: z.string().min(1).optional().describe("the client certificate's key (PEM); default: in the cert file"),
      insecure: z.boolean().optional().describe("do not verify the server's certificate (expiry is still reported)"),
    })
    .strict()
    .optional()
    .describe("TLS files for https://, tls:// and the like"),
};

export const checkSchema = z
  .object({
    name: z.string().regex(/^[\w.-]+$/, "letters, digits, ., - and _"),
    probe: z.string().min(1).optional().describe("any opskit probe target: http(s)://, tcp://, tls://, dns://, grpc://, ssh://, etcd://, promql+http(s)://; templated with the config's vars, e.g. etcd://{{ vars.etcd_endpoint }}"),
    promql: kit.schemaOf(promqlTargetSchema).optional().describe("instead of probe: a PromQL query, { url, query, range, step, bearer, ... }; expect reads its series as result, e.g. result.all(s, s.value < 0.01)"),
    expect: z.union([z.string(), z.array(z.string())]).optional().describe("CEL over the probe result, as in opskit probe, and the config's vars (vars.NAME)"),
    interval: duration.default("10s"),
    timeout: duration.optional().describe("per probe (default: the interval, at most 10s)"),
    failureThreshold: z.number().int().min(1).default(3).describe("consecutive failures before the alert fires"),
    successThreshold: z.number().int().min(1).default(2).describe("consecutive successes before it resolves"),
    ...probeClientFields,
    ...selfHealing,
  })
  .strict()
  .refine((check) => (check.probe === undefined) !== (check.promql === undefined), "a check takes one of probe or promql");

/**
 * A module of opskit serve's blackbox_exporter-compatible GET /probe, shaped
 * as blackbox.yml's (prober, timeout, http.valid_status_codes, ...) in
 * opskit's spelling; the README maps each key to blackbox's.
 */
export const probeModuleSchema = z
  .object({
    prober: z.enum(["http", "tcp", "tls", "ssl", "dns"]).describe("http: target is a URL (http:// when it has no scheme); tcp: host:port; tls (or ssl): host:port, with a TLS handshake; dns: the DNS server, host[:port]"),
    timeout: duration.default("5s").describe("per probe; capped by Prometheus's X-Prometheus-Scrape-Timeout-Seconds less 0.5s, as blackbox_exporter does"),
    targets: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("the targets this module may probe, globs over ?target= as given (e.g. https://*.example.com/*); a token holder can otherwise make the server probe any address it reaches"),
    http: z
      .object({
        validStatusCodes: z.array(z.number().int().min(100).max(599)).optional().describe("default any 2xx (valid_status_codes)"),
        method: z.string().default("GET"),
        headers: z.record(z.string(), z.string()).default({}),
        body: z.string().optional(),
        failIfBodyMatchesRegexp: z.array(z.string()).default([]).describe("fail_if_body_matches_regexp"),
        failIfBodyNotMatchesRegexp: z.array(z.string()).default([]).describe("fail_if_body_not_matches_regexp"),
        ...probeClientFields,
        followRedirects: z.boolean().default(true).describe("follow_redirects: true by default, as blackbox_exporter"),
      })
      .strict()
      .default({ method: "GET", headers: {}, failIfBodyMatchesRegexp: [], failIfBodyNotMatchesRegexp: [], followRedirects: true }),
    dns: z
      .object({
        queryName: z.string().min(1).describe("query_name"),
        queryType: z.string().default("A").describe("query_type"),
      })
      .strict()
      .optional(),
    tls: probeClientFields.tls.describe("tls_config: ca, cert, key, insecure (insecure_skip_verify)"),
  })
  .strict()
  .refine((m) => m.prober !== "dns" || m.dns !== undefined, { message: "a dns module needs dns: { queryName }", path: ["dns"] });

const verifySchema = z
  .object({
    alertResolved: z.boolean().optional().describe("wait for the alert's resolved notification"),
    probe: kit.schemaOf(actions.probe.schema).optional().describe("poll a probe until it passes; success resolves the incident"),
    promql: kit.schemaOf(actions.promql.schema).optional().describe("poll a PromQL query until its expect holds, e.g. { url, query, expect: 'result.all(s, s.value < 0.01)' }; {{ alert.labels.NAME }} in its query is escaped for PromQL; success resolves the incident"),
    for: duration.optional().describe("the probe or query must pass without a break this long, e.g. 2m (default: its first pass)"),
    timeout: duration.default("5m"),
    interval: duration.default("5s").describe("between verify probes"),
  })
  .strict()
  .refine((v) => [v.alertResolved === true, v.probe !== undefined, v.promql !== undefined].filter(Boolean).length === 1, "verify takes one of alertResolved: true, probe or promql")
  .refine((v) => v.for === undefined || v.alertResolved !== true, "for: applies to a probe or promql verification");

export const ruleSchema = z
  .object({
    name: z.string().regex(/^[\w.-]+$/, "letters, digits, ., - and _"),
    match: labels.default({}).describe("label equality, all must hold"),
    matchRe: labels.default({}).describe("label regular expressions, anchored, all must match"),
    when: z.string().optional().describe("CEL over alert (labels, annotations, status, fingerprint), and the series of the rule's promql query as result"),
    promql: kit.schemaOf(promqlTargetSchema).optional().describe("a PromQL query run when an alert the rule's labels match would open an incident; its when reads the series as result, e.g. result.exists(s, s.value > 200); a failed query means no match"),
    run: z.string().min(1).describe("the workflow to run"),
    targets: z.string().optional().describe("selector narrowing the workflow's targets; templated, e.g. 'name={{ alert.labels.host }}'"),
    vars: z.record(z.string(), z.string()).default({}).describe("workflow vars, templated from alert.labels and alert.annotations"),
    cooldown: duration.default("10m").describe("no new run for the same alert fingerprint within this"),
    maxAttempts: z.number().int().min(1).default(2).describe("runs per incident before escalating"),
    approval: z.boolean().default(false).describe("runs wait for `opskit incidents approve ID`"),
    rateLimit: z.object({ runs: z.number().int().min(1), per: duration }).strict().optional().describe("at most this many runs of the rule per window"),
    circuitBreaker: z.number().int().min(1).default(3).describe("consecutive failed remediations that disable the rule"),
    onInterrupted: z.enum(["retry", "escalate"]).default("retry").describe("a run cut off by a restart: run a new attempt, or escalate"),
    verify: verifySchema.optional(),
    escalate: stepList.default([]).describe("steps run when the rule gives up (notify, http, exec)"),
  })
  .strict()
  .refine((rule) => rule.promql === undefined || rule.when !== undefined, { message: "a rule's promql is read by its when: give when too, e.g. when: result.exists(s, s.value > 200)", path: ["when"] });

/** `server:` settings; defaults are applied by serverSettings(), so opskit.d/ files can split them. */
export const serverSchema = z
  .object({
    listen: z.string().optional().describe("host:port (default 127.0.0.1:9797)"),
    token: secretRef.optional().describe("bearer token for the API, e.g. env:OPSKIT_TOKEN; without it opskit serve generates one on its first start (server.token in the journal's directory, mode 0600) and the CLI on the same host reads it there"),
    webhookToken: secretRef.optional().describe("bearer token for the alert webhooks (Alertmanager: http_config.authorization.credentials); without it they take the API token"),
    auth: z.enum(["token", "none"]).optional().describe("default token; none lets loopback callers in without a token (any local process or web page can then call the API): refused beyond loopback, warned about at every start"),
    publicUrl: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), "an http:// or https:// URL")
      .optional()
      .describe("the URL clients use when it is not the listen address (a DNS name, a reverse proxy), e.g. https://opskit.example.com; the server answers only Host values naming its listen address, loopback, or this"),
    maxBodyBytes: z.number().int().min(1024).optional().describe("default 1 MiB; larger bodies get 413"),
    maxConcurrentRemediations: z.number().int().min(1).optional().describe("default 4; more wait their turn"),
    checkConcurrency: z.number().int().min(1).optional().describe("default 16 probes at once"),
    drainTimeout: duration.optional().describe("default 30s: on SIGTERM, how long in-flight runs may finish before they are cancelled"),
    staleAfter: duration.optional().describe("default 24h: an open incident with no notification for this long closes as stale"),
    heartbeat: duration.optional().describe("default 1s: how often a replica records that it is alive and renews its leases (leader, checks) in the journal"),
    leaseTtl: duration.optional().describe("default 5s, at least 3 heartbeats: a replica silent this long is dead to the others (its attempts are taken over, its checks and the leader lease move); it cancels its own remediations two heartbeats before. Longer rides out longer database hiccups; shorter takes over sooner"),
    fsync: z.boolean().optional().describe("default false: commits survive a crash of opskit; true flushes each commit to disk so they survive a power loss too, at a measured cost of about a third of the alert throughput"),
  })
  .strict();

/** `observability:` where traces, OTLP metrics and the server's structured log go. */
export const observabilitySchema = kit.schemaOf(observabilityPart);

/** One rule of opskit agent: CEL over an event or the windows, raising and resolving an alert. */
export const agentRuleSchema = kit.schemaOf(agentRulePart);

/** `agent:` (opskit agent): its own module, so the agent can check it alone. */
export const agentSchema = kit.schemaOf(agentPart);

const overlaySchema = z
  .object({
    vars: vars.optional(),
    inventory: inventorySchema.partial().optional(),
    defaults: defaultsSchema.optional(),
  })
  .strict();

export const configSchema = z
  .object({
    vars: vars.default({}),
    inventory: inventorySchema.default({ hosts: {}, groups: {}, sources: [] }),
    defaults: defaultsSchema.default({}),
    environments: z.record(z.string(), overlaySchema).default({}),
    workflows: z.record(z.string().regex(/^[\w.-]+$/, "letters, digits, ., - and _"), workflowSchema).default({}),
    server: serverSchema.default({}),
    checks: z.array(checkSchema).default([]),
    probeModules: z.record(z.string().regex(/^[\w.-]+$/, "letters, digits, ., - and _"), probeModuleSchema).default({}).describe("modules of opskit serve's GET /probe?target=...&module=NAME (blackbox_exporter's)"),
    rules: z.array(ruleSchema).default([]),
    observability: observabilitySchema.default({}),
    agent: agentSchema.optional().describe("opskit agent: sources read at the edge (kernel events, logs), rules over them, alerts delivered to opskit serve"),
    policy: z.string().min(1).optional().describe("org policy file (YAML, relative to the config): denials no workflow can lift; --policy overrides it"),
    journal: z
      .string()
      .min(1)
      .refine((location) => !/^postgres(ql)?:\/\/[^/?#@]*:[^/?#@]*@/i.test(location) && !/[?&][^=]*password=/i.test(location), "no password in the config: give it in PGPASSWORD or ~/.pgpass")
      .optional()
      .describe("where the journal is: a file (relative to the config), or postgres://USER@HOST:PORT/DB for several opskit serve replicas sharing one (the password in PGPASSWORD or ~/.pgpass); default ~/.local/state/opskit/journal.db; --journal and OPSKIT_JOURNAL override it"),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type Workflow = z.infer<typeof workflowSchema>;
export type Step = z.infer<typeof stepSchema>;
export type Strategy = z.infer<typeof strategySchema>;
export type Defaults = z.infer<typeof defaultsSchema>;
export type Overlay = z.infer<typeof overlaySchema>;
export type Check = z.infer<typeof checkSchema>;
export type ProbeModule = z.infer<typeof probeModuleSchema>;
export type Permissions = z.infer<typeof permissionsSchema>;
export type Shadow = z.infer<typeof shadowSchema>;
export type Schedule = z.infer<typeof scheduleSchema>;
export type Rule = z.infer<typeof ruleSchema>;
export type ServerConfig = z.infer<typeof serverSchema>;
export type ObservabilityConfig = z.infer<typeof observabilitySchema>;
export type AgentConfig = z.infer<typeof agentSchema>;
export type AgentRule = z.infer<typeof agentRuleSchema>;
