// The dashboard's reads and actions on the server's /api/v1, with the bearer
// token from token.ts and a timeout on every call. The shapes are the wire
// format: everything in them is data from the server (and, through alerts,
// from anyone who can send one), so views render it as text.
import { getToken } from "./token.ts";

export type GateState = "running" | "queued" | "awaiting_approval" | "suppressed" | "escalated" | "waiting" | "unmatched" | string;

export interface Gate {
  state: GateState;
  reason?: string;
  /** Epoch ms when a suppression ends (cooldown, rate limit). */
  until?: number;
  attempt?: number;
}

export interface Incident {
  id: number;
  title: string;
  fingerprint: string;
  status: "open" | "resolved" | string;
  source?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  rule?: string;
  milestones: Record<string, number | undefined>;
  attempts?: number;
  escalated?: boolean;
  automated?: boolean;
  resolution?: string;
  notifications?: number;
  lastNotifiedAt?: number;
  traceId?: string;
  gate?: Gate;
}

export interface Attempt {
  incidentId: number;
  attempt: number;
  rule: string;
  status: string;
  runId?: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  detail?: string;
}

export interface TimelineEvent {
  at: number;
  kind: string;
  message: string;
  data?: Record<string, unknown>;
  count?: number;
}

export interface Run {
  id: string;
  kind: string;
  name: string;
  status: string;
  params?: { trigger?: { incident: number; attempt: number; rule: string }; dryRun?: boolean; workflow?: string; command?: string };
  startedAt: string;
  finishedAt?: string;
  summary?: Record<string, unknown>;
  traceId?: string;
  /** Whether it executes on this server now (its output can be followed). */
  live?: boolean;
}

export interface RunTarget {
  target: string;
  batch: number;
  status: string;
  changed?: boolean;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  error?: string;
}

export interface RunStep {
  target: string;
  phase: string;
  index: number;
  name: string;
  action: string;
  status: string;
  exitCode?: number | null;
  durationMs: number;
  attempts?: number;
  error?: string;
  startedAt: string;
  /** With ?steps=summary: the size of each stream (the output itself is read per step). */
  stdoutBytes?: number;
  stderrBytes?: number;
}

export interface Phases {
  detect?: number;
  isolate?: number;
  recover?: number;
  resolve?: number;
}

export interface Overview {
  paused: boolean;
  dryRun: boolean;
  version: string;
  replica?: { name: string; leader: boolean };
  replicas?: number | unknown[];
  openIncidents: number;
  awaitingApproval: Incident[];
  running: Run[];
}

export interface IncidentView {
  incident: Incident;
  attempts: Attempt[];
  events: TimelineEvent[];
  runs?: Run[];
  gate?: Gate;
  phases?: Phases;
  /** The targets of each run, by run id. */
  targets?: Record<string, RunTarget[]>;
}

export interface RunView {
  run: Run;
  targets: RunTarget[];
  steps: RunStep[];
  live?: boolean;
}

export interface CheckResult {
  at: number;
  ok: boolean;
  durationMs?: number;
}

export interface Check {
  name: string;
  status: string;
  kind?: string;
  target?: string;
  labels?: Record<string, string>;
  group?: string;
  intervalMs?: number;
  lastRunAt?: number;
  lastDurationMs?: number;
  lastError?: string;
  history?: CheckResult[];
  uptime?: number;
}

export interface Page<T> {
  items: T[];
  total?: number;
  nextCursor?: string;
}

/** An answer other than 2xx, or no answer: the status (0 for none), the server's code and hint. */
export class ApiError extends Error {
  /** The token the refused request carried (a 401 for an old token is no news once it changed). */
  readonly token: string | undefined = getToken();

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
  get unauthorized(): boolean {
    return this.status === 401;
  }
}

const TIMEOUT_MS = 15_000;

function requestSignal(signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function failure(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  let hint: string | undefined;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown; hint?: unknown } };
    if (typeof body.error?.code === "string") code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message;
    if (typeof body.error?.hint === "string") hint = body.error.hint;
  } catch {
    // Not JSON: the status says enough.
  }
  return new ApiError(response.status, code, message, hint);
}

/** Sends a request to the API; rejects with ApiError for anything but 2xx. */
export async function request(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<Response> {
  const token = getToken();
  let response: Response;
  try {
    response = await fetch(path, {
      method: init.method ?? "GET",
      headers: { ...authHeaders(), ...(init.body !== undefined ? { "content-type": "application/json" } : {}), accept: "application/json" },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: requestSignal(init.signal),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    if (init.signal?.aborted) throw error;
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    throw new ApiError(0, timedOut ? "E_TIMEOUT" : "E_NETWORK", timedOut ? "the server did not answer in time" : "the server cannot be reached", "check that opskit serve is running");
  }
  if (!response.ok) {
    const error = await failure(response);
    (error as { token: string | undefined }).token = token;
    throw error;
  }
  return response;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await request(path, { ...(signal ? { signal } : {}) });
  return (await response.json()) as T;
}

export async function postJson<T>(path: string, body: unknown = {}, signal?: AbortSignal): Promise<T> {
  const response = await request(path, { method: "POST", body, ...(signal ? { signal } : {}) });
  return (await response.json().catch(() => ({}))) as T;
}

/** A query string from the parameters that have a value. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const api = {
  overview: (signal?: AbortSignal) => getJson<Overview>("/api/v1/overview", signal),
  incidents: (params: Record<string, string | number | undefined>, signal?: AbortSignal) =>
    getJson<{ incidents: Incident[]; total?: number; nextCursor?: string }>(`/api/v1/incidents${query(params)}`, signal),
  incident: (id: number, signal?: AbortSignal) => getJson<IncidentView>(`/api/v1/incidents/${id}`, signal),
  incidentAction: (id: number, verb: "ack" | "approve" | "deny" | "resolve", body: Record<string, string> = {}) => postJson<unknown>(`/api/v1/incidents/${id}/${verb}`, { by: "dashboard", ...body }),
  setPaused: (paused: boolean) => postJson<{ paused: boolean }>(paused ? "/api/v1/pause" : "/api/v1/resume"),
  runs: (params: Record<string, string | number | undefined>, signal?: AbortSignal) => getJson<{ runs: Run[]; total?: number; nextCursor?: string }>(`/api/v1/runs${query(params)}`, signal),
  run: (id: string, signal?: AbortSignal) => getJson<RunView>(`/api/v1/runs/${encodeURIComponent(id)}?steps=summary`, signal),
  runOutputPath: (id: string, params: Record<string, string | number | undefined> = {}) => `/api/v1/runs/${encodeURIComponent(id)}/output${query(params)}`,
  checks: (signal?: AbortSignal) => getJson<{ checks: Check[] }>("/api/v1/checks", signal),
  mttr: (params: Record<string, string | number | undefined>, signal?: AbortSignal) => getJson<unknown>(`/api/v1/mttr${query(params)}`, signal),
};
