import { isAbsolute, resolve } from "node:path";
import { ExitCode, OpsError } from "../errors.ts";
import { isSecretReference, resolveSecret, type SchemaKit } from "../schema/index.ts";
import { parseDuration } from "../time/index.ts";
import { GATEWAY_PATHS, parseEndpoint, type EtcdGateway, type EtcdTls, type GatewayPath } from "../transport/etcd/index.ts";
import { failedResult } from "./errors.ts";
import { compileText } from "./render.ts";
import { withTraceHeader } from "./trace-context.ts";
import type { Action, ActionContext, ActionResult, SpecOf } from "./types.ts";

const OPERATIONS = ["status", "compact", "defrag", "alarm", "moveLeader"] as const;
type Operation = (typeof OPERATIONS)[number];
/** More endpoints than any etcd cluster has members (etcd advises 3, 5 or 7). */
const MAX_ENDPOINTS = 16;

const schema = ({ z, duration, secretRef, exactlyOneOf }: SchemaKit) => {
  const endpoint = z.string().min(1);
  return exactlyOneOf(
    z
      .object({
        endpoints: z
          .union([endpoint, z.array(endpoint).min(1).max(MAX_ENDPOINTS)])
          .optional()
          .describe("the members' client URLs, e.g. [http://10.0.0.1:2379, ...], every member's for defrag and alarm disarm; templated (a list var renders as the list, a string splits at commas); default the target's address on port 2379"),
        tls: z
          .object({ ca: z.string().min(1).optional(), cert: z.string().min(1).optional(), key: z.string().min(1).optional() })
          .strict()
          .optional()
          .describe("PEM files (relative to the config) for https endpoints: the CA that signs the members' certificates, a client certificate and its key"),
        username: z.string().min(1).optional().describe("an etcd user (auth enabled), as it is or a secret reference (env:NAME)"),
        password: secretRef.optional().describe("the user's password: a secret reference, e.g. env:ETCD_PASSWORD"),
        timeout: duration.default("5s").describe("each request's limit; defragmentation and compaction have defrag.defragTimeout"),
        quotaBytes: z
          .union([z.number().int().positive(), z.string().min(1)])
          .default(2 * 1024 ** 3)
          .describe("the members' --quota-backend-bytes, which dbQuotaUsage is measured against when etcd does not report it (before 3.6); default etcd's 2 GiB; a number, or a template rendering one ({{ vars.etcd_quota_bytes }})"),
        disarmBelow: z.number().gt(0).max(1).default(0.8).describe("NOSPACE is disarmed only when every member's dbSize is below this share of the quota"),
        status: z.object({}).strict().optional().describe("every member's status: dbSize, dbSizeInUse, dbSizeFree, dbQuotaUsage, leader, raft indexes, alarms, healthy"),
        compact: z.object({ physical: z.boolean().default(true).describe("wait until every member has compacted its store") }).strict().optional().describe("compact the keyspace to the current revision"),
        defrag: z
          .object({
            compact: z.boolean().default(true).describe("compact to the current revision first, so defragmentation has something to give back"),
            moveLeader: z.boolean().default(false).describe("before the leader's turn, hand leadership to the most caught-up defragmented follower"),
            pause: duration.default("5s").describe("between members, for clients and followers to settle"),
            defragTimeout: duration.default("5m").describe("one member's defragmentation (and the compaction)"),
            healthTimeout: duration.default("1m").describe("how long a defragmented member has to answer, see a leader, catch up and serve a linearizable read"),
            disarm: z.boolean().default(true).describe("disarm NOSPACE at the end, when every member is below disarmBelow"),
          })
          .strict()
          .optional()
          .describe("defragment every member, one at a time, the leader last, each checked healthy before the next; refuses to start unless every member is healthy"),
        alarm: z.enum(["list", "disarm"]).optional().describe("list the active alarms; disarm NOSPACE, only when every member is below disarmBelow (CORRUPT is left for a person)"),
        moveLeader: z
          .object({ to: z.string().min(1).optional().describe("the member's name; default the most caught-up follower"), wait: duration.default("30s").describe("for the new leader to take over") })
          .strict()
          .optional()
          .describe("hand leadership to another member"),
      })
      .strict()
      .refine((spec) => (spec.username === undefined) === (spec.password === undefined), "username and password go together"),
    OPERATIONS,
    "an etcd step takes",
  );
};
type EtcdSpec = SpecOf<typeof schema>;

export type EtcdOperation =
  | { kind: "status" }
  | { kind: "compact"; physical: boolean }
  | { kind: "defrag"; compact: boolean; moveLeader: boolean; pauseMs: number; defragTimeoutMs: number; healthTimeoutMs: number; disarm: boolean }
  | { kind: "alarm"; action: "list" | "disarm" }
  | { kind: "moveLeader"; to?: string; waitMs: number };

export interface EtcdRendered {
  operation: EtcdOperation;
  endpoints: string[];
  /** Absolute paths of the PEM files. */
  tls?: { ca?: string; cert?: string; key?: string };
  username?: { value: string } | { reference: string };
  /** The password's reference, resolved when the step runs. */
  password?: string;
  timeoutMs: number;
  quotaBytes: number;
  disarmBelow: number;
}

/** What an operation hands back: its lines, its data, and whether it worked and changed anything. */
export interface OperationOutcome {
  ok: boolean;
  changed: boolean;
  data: Record<string, unknown>;
  error?: OpsError;
}

/** What each operation is given to work with. */
export interface OperationContext {
  gateway: EtcdGateway;
  rendered: EtcdRendered;
  signal: AbortSignal;
  /** Writes a line of the step's output. */
  log(line: string): void;
}

/** The gateway paths each operation may call, for permissions and the org policy. */
const pathsOf: Record<Operation, readonly GatewayPath[]> = {
  status: [GATEWAY_PATHS.status, GATEWAY_PATHS.members, GATEWAY_PATHS.alarm, GATEWAY_PATHS.range],
  compact: [GATEWAY_PATHS.status, GATEWAY_PATHS.compact],
  defrag: [GATEWAY_PATHS.status, GATEWAY_PATHS.members, GATEWAY_PATHS.alarm, GATEWAY_PATHS.range, GATEWAY_PATHS.compact, GATEWAY_PATHS.defragment, GATEWAY_PATHS.moveLeader],
  alarm: [GATEWAY_PATHS.status, GATEWAY_PATHS.members, GATEWAY_PATHS.alarm],
  moveLeader: [GATEWAY_PATHS.status, GATEWAY_PATHS.members, GATEWAY_PATHS.alarm, GATEWAY_PATHS.range, GATEWAY_PATHS.moveLeader],
};

/** The endpoints as rendered: a JSON list (a list var), or URLs separated by commas or spaces; each reduced to its origin. */
export function splitEndpoints(texts: readonly string[], where: string): string[] {
  const urls = texts.flatMap((text) => {
    const trimmed = text.trim();
    if (trimmed.startsWith("[")) {
      let list: unknown;
      try {
        list = JSON.parse(trimmed);
      } catch {
        list = undefined;
      }
      if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) {
        throw new OpsError({ code: "E_ETCD_ENDPOINT", message: `${where}: ${trimmed.slice(0, 80)} is not a list of URLs`, hint: "a list of client URLs, e.g. [http://10.0.0.1:2379, http://10.0.0.2:2379]", exitCode: ExitCode.usage });
      }
      return list as string[];
    }
    return trimmed.split(/[\s,]+/).filter((part) => part !== "");
  });
  const endpoints = [...new Set(urls.map((url) => parseEndpoint(url, where)))];
  if (endpoints.length === 0) throw new OpsError({ code: "E_ETCD_ENDPOINT", message: `${where}: no endpoint`, hint: "give the members' client URLs", exitCode: ExitCode.usage });
  if (endpoints.length > MAX_ENDPOINTS) throw new OpsError({ code: "E_ETCD_ENDPOINT", message: `${where}: ${endpoints.length} endpoints, more than ${MAX_ENDPOINTS}`, hint: "an etcd cluster has 3, 5 or 7 members", exitCode: ExitCode.usage });
  return endpoints;
}

function operationOf(spec: EtcdSpec, where: string): EtcdOperation {
  const ms = (text: string, field: string) => parseDuration(text, `${where}.${field}`);
  if (spec.status) return { kind: "status" };
  if (spec.compact) return { kind: "compact", physical: spec.compact.physical };
  if (spec.defrag) {
    const d = spec.defrag;
    return { kind: "defrag", compact: d.compact, moveLeader: d.moveLeader, pauseMs: ms(d.pause, "defrag.pause"), defragTimeoutMs: ms(d.defragTimeout, "defrag.defragTimeout"), healthTimeoutMs: ms(d.healthTimeout, "defrag.healthTimeout"), disarm: d.disarm };
  }
  if (spec.alarm) return { kind: "alarm", action: spec.alarm };
  const move = spec.moveLeader!;
  return { kind: "moveLeader", waitMs: ms(move.wait, "moveLeader.wait") };
}

const describeOperation: Record<Operation, (op: EtcdOperation) => string> = {
  status: () => "status",
  compact: () => "compact to the current revision",
  defrag: (op) => {
    const d = op as Extract<EtcdOperation, { kind: "defrag" }>;
    return `defrag one member at a time, leader last${d.moveLeader ? " after moving leadership" : ""}, pause ${d.pauseMs / 1000}s${d.compact ? ", after compacting" : ""}`;
  },
  alarm: (op) => `alarm ${(op as Extract<EtcdOperation, { kind: "alarm" }>).action}`,
  moveLeader: (op) => {
    const to = (op as Extract<EtcdOperation, { kind: "moveLeader" }>).to;
    return `move leader to ${to === undefined ? "the most caught-up follower" : quoted(to)}`;
  },
};

/** The TLS files read now: a step reads them each time it runs, so a renewed certificate is picked up. */
async function readTls(tls: EtcdRendered["tls"]): Promise<EtcdTls | undefined> {
  if (!tls) return undefined;
  const read = async (path: string | undefined, what: string) => {
    if (path === undefined) return undefined;
    const file = Bun.file(path);
    if (!(await file.exists())) throw new OpsError({ code: "E_ETCD_TLS", message: `etcd.tls.${what}: ${path} not found`, hint: "check the path (relative to the config)", exitCode: ExitCode.config });
    return file.text();
  };
  const [ca, cert, key] = await Promise.all([read(tls.ca, "ca"), read(tls.cert, "cert"), read(tls.key, "key")]);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

async function credentialsOf(rendered: EtcdRendered): Promise<{ username: string; password: string } | undefined> {
  if (rendered.username === undefined || rendered.password === undefined) return undefined;
  const username = "reference" in rendered.username ? await resolveSecret(rendered.username.reference, "etcd.username") : rendered.username.value;
  return { username, password: await resolveSecret(rendered.password, "etcd.password") };
}

/** Each operation, loaded when a step runs one. */
async function operation(kind: Operation): Promise<(context: OperationContext) => Promise<OperationOutcome>> {
  if (kind === "defrag") return (await import("./etcd-defrag.ts")).defragCluster;
  const simple = await import("./etcd-operations.ts");
  return { status: simple.clusterStatus, compact: simple.compactCluster, alarm: simple.alarms, moveLeader: simple.moveLeader }[kind];
}

async function runEtcd(rendered: EtcdRendered, context: ActionContext): Promise<ActionResult> {
  const startedAt = performance.now();
  const lines: string[] = [];
  // The step's timeout bounds the whole operation; each request has its own, shorter one.
  const deadline = AbortSignal.timeout(Math.max(1, context.timeoutMs));
  const signal = AbortSignal.any([context.signal, deadline]);
  // The gateway sees one signal: a cut-off by the step's own timeout is told apart from an interrupted run here.
  const stepTimeout = (interrupted: OpsError) =>
    deadline.aborted && !context.signal.aborted
      ? new OpsError({ code: "E_ETCD_STEP_TIMEOUT", message: `etcd ${rendered.operation.kind}: the step's timeout (${context.timeoutMs / 1000}s) passed`, hint: "raise the step's timeout: a large database takes a while to compact and defragment", exitCode: ExitCode.check })
      : interrupted;
  const log = (line: string) => {
    lines.push(line);
    context.onOutput?.("stdout", `${line}\n`);
  };
  try {
    const { EtcdGateway } = await import("../transport/etcd/index.ts");
    const tls = await readTls(rendered.tls);
    const credentials = await credentialsOf(rendered);
    const headers = withTraceHeader({}, context);
    const gateway = new EtcdGateway({ timeoutMs: rendered.timeoutMs, signal, ...(tls ? { tls } : {}), ...(credentials ? { credentials } : {}), headers });
    const outcome = await (await operation(rendered.operation.kind))({ gateway, rendered, signal, log });
    if (outcome.error?.code === "E_INTERRUPTED") outcome.error = stepTimeout(outcome.error);
    return {
      ok: outcome.ok,
      changed: outcome.changed,
      exitCode: null,
      stdout: lines.join("\n") + (lines.length > 0 ? "\n" : ""),
      stderr: "",
      durationMs: performance.now() - startedAt,
      data: { operation: rendered.operation.kind, ...outcome.data },
      ...(outcome.error ? { error: outcome.error.toJSON() } : {}),
    };
  } catch (error) {
    const stopped = error instanceof OpsError && error.code === "E_INTERRUPTED" ? stepTimeout(error) : error;
    const result = failedResult(stopped, startedAt, stopped instanceof OpsError && stopped.code === "E_ETCD_UNREACHABLE");
    return { ...result, stdout: lines.join("\n") + (lines.length > 0 ? "\n" : ""), data: { operation: rendered.operation.kind } };
  }
}

/**
 * etcd's maintenance over its JSON gateway: status, compact, defrag (the
 * whole safe sequence: every member healthy first, compact, one member at a
 * time with the leader last, health after each, NOSPACE disarmed only when
 * every member is under the threshold), alarm list|disarm, moveLeader.
 */
export const etcdAction: Action<EtcdSpec, EtcdRendered> = {
  kind: "etcd",
  schema,
  async compile(spec, context) {
    const where = `${context.where}.etcd`;
    const operation = operationOf(spec, where);
    // A member's name may come from a var or an alert label: it is matched against the member list as text.
    const to = spec.moveLeader?.to === undefined ? undefined : await compileText(spec.moveLeader.to, "etcd.moveLeader.to", "raw", context);
    const texts = spec.endpoints === undefined ? undefined : await Promise.all((Array.isArray(spec.endpoints) ? spec.endpoints : [spec.endpoints]).map((text, i) => compileText(text, `etcd.endpoints[${i}]`, "raw", context)));
    // Only the config's own text names a secret: a rendered value is never read as a reference.
    const reference = spec.username !== undefined && isSecretReference(spec.username) ? spec.username : undefined;
    const username = spec.username === undefined || reference ? undefined : await compileText(spec.username, "etcd.username", "raw", context);
    const inBase = (path: string | undefined) => (path === undefined ? undefined : isAbsolute(path) ? path : resolve(context.baseDir, path));
    const tls = spec.tls && { ...(spec.tls.ca ? { ca: inBase(spec.tls.ca) } : {}), ...(spec.tls.cert ? { cert: inBase(spec.tls.cert) } : {}), ...(spec.tls.key ? { key: inBase(spec.tls.key) } : {}) };
    const timeoutMs = parseDuration(spec.timeout, `${where}.timeout`);
    const quota = typeof spec.quotaBytes === "number" ? () => spec.quotaBytes as number : await compileText(spec.quotaBytes, "etcd.quotaBytes", "raw", context);
    return (variables) => {
      const target = variables.target as { address?: string } | undefined;
      const given = texts ? texts.map((render) => render(variables)) : [`${tls ? "https" : "http"}://${bracketed(target?.address ?? "127.0.0.1")}:2379`];
      return {
        operation: to && operation.kind === "moveLeader" ? { ...operation, to: to(variables) } : operation,
        endpoints: splitEndpoints(given, `${where}.endpoints`),
        ...(tls ? { tls } : {}),
        ...(reference ? { username: { reference } } : username ? { username: { value: username(variables) } } : {}),
        ...(spec.password !== undefined ? { password: spec.password } : {}),
        timeoutMs,
        quotaBytes: quotaOf(quota(variables), `${where}.quotaBytes`),
        disarmBelow: spec.disarmBelow,
      };
    };
  },
  describe: (rendered) => `etcd: ${describeOperation[rendered.operation.kind](rendered.operation)} via ${rendered.endpoints.join(", ")}`,
  subjects: (rendered) => {
    const paths = [...(rendered.username ? [GATEWAY_PATHS.authenticate] : []), ...pathsOf[rendered.operation.kind]];
    return rendered.endpoints.flatMap((endpoint) => paths.map((path) => ({ category: "http" as const, label: `etcd ${rendered.operation.kind}`, url: `${endpoint}${path}` })));
  },
  run: runEtcd,
};

function quotaOf(value: number | string, where: string): number {
  if (typeof value === "number") return value;
  if (!/^[1-9]\d{0,15}$/.test(value.trim())) throw new OpsError({ code: "E_ETCD_QUOTA", message: `${where}: ${quoted(value)} is not a number of bytes`, hint: "e.g. 8589934592 for 8 GiB", exitCode: ExitCode.usage });
  return Number(value.trim());
}

const quoted = (text: string) => JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);

/** An IPv6 address in a URL's authority. */
const bracketed = (address: string) => (address.includes(":") && !address.startsWith("[") ? `[${address}]` : address);
