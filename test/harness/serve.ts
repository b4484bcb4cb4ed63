// Starts `opskit serve` from source as a child process on a free loopback
// port, the way an operator runs it, and talks to its API.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { repoRoot } from "./cli.ts";

export interface ServeProcess {
  url: string;
  dir: string;
  journal: string;
  /** The token the harness sends: options.token, else the one the server generated beside its journal. */
  token: string | undefined;
  child: ReturnType<typeof Bun.spawn>;
  /** Everything the server printed so far. */
  output(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number>;
  /** SIGKILL: no drain, no goodbye. */
  kill(): Promise<void>;
  get(path: string, token?: string): Promise<any>;
  post(path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  /** Polls GET path until `until` holds (or throws after timeoutMs with the last value). */
  waitFor<T = any>(path: string, until: (value: any) => T | undefined | false, timeoutMs?: number): Promise<T>;
}

/**
 * A child's stdout and stderr, collected as they come: `opskit serve` logs a
 * line per incident event, and a full pipe would stall it.
 */
export function collectOutput(child: { stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array> }): { text(): string; drained: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([pump(child.stdout), pump(child.stderr)]).then(
    () => undefined,
    () => undefined,
  );
  return { text: () => text, drained };
}

/** Waits for `opskit serve on URL` (or, with --json, the server.started event) in the output; undefined when the process exits first or time runs out. */
export async function waitForServeUrl(child: { exitCode: number | null }, output: () => string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The text summary line, or the server.started event of --json.
    const match = /opskit serve on (http:\/\/[\d.:]+)|"type":"server\.started","url":"(http:\/\/[\d.:]+)"/.exec(output());
    const url = match?.[1] ?? match?.[2];
    if (url) return url;
    if (child.exitCode !== null || Date.now() > deadline) return undefined;
    await Bun.sleep(25);
  }
}

/** A fresh directory holding opskit.yaml; the journal goes beside it unless given. */
export function writeConfig(yaml: string, dir = mkdtempSync(join(tmpdir(), "opskit-serve-"))): string {
  writeFileSync(join(dir, "opskit.yaml"), yaml);
  return dir;
}

/** `executable`: the built opskit (harness/binary.ts builtBinary()) instead of the source run by Bun. */
export async function startServe(dir: string, options: { journal?: string; args?: string[]; env?: Record<string, string>; token?: string; executable?: string } = {}): Promise<ServeProcess> {
  const journal = options.journal ?? join(dir, "journal.db");
  const command = options.executable ? [options.executable] : [process.execPath, `${repoRoot}src/cli/main.ts`];
  const child = Bun.spawn([...command, "serve", "-c", dir, "--listen", "127.0.0.1:0", "--journal", journal, ...(options.args ?? [])], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const collected = collectOutput(child);
  const text = collected.text;
  const url = await waitForServeUrl(child, text, 30_000);
  if (!url) throw new Error(`opskit serve did not start (exit ${child.exitCode}):\n${text()}`);
  const tokenFile = join(dirname(journal), "server.token");
  const token = options.token ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined);
  const headers = (given?: string) => ({ "content-type": "application/json", ...((given ?? token) ? { authorization: `Bearer ${given ?? token}` } : {}) });
  const server: ServeProcess = {
    url,
    dir,
    journal,
    token,
    child,
    output: text,
    async stop() {
      child.kill("SIGTERM");
      return await child.exited;
    },
    async kill() {
      child.kill("SIGKILL");
      await child.exited;
    },
    async get(path, token) {
      const response = await fetch(`${url}${path}`, { headers: headers(token), signal: AbortSignal.timeout(10_000) });
      return response.json();
    },
    async post(path, body, token) {
      const response = await fetch(`${url}${path}`, { method: "POST", headers: headers(token), body: typeof body === "string" ? body : JSON.stringify(body ?? {}), signal: AbortSignal.timeout(10_000) });
      return { status: response.status, body: await response.json().catch(() => undefined) };
    },
    async waitFor(path, until, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      let last: unknown;
      for (;;) {
        last = await server.get(path);
        const result = until(last);
        if (result) return result as never;
        if (Date.now() > end) throw new Error(`timed out waiting on ${path}; last answer:\n${JSON.stringify(last, null, 2)}\nserver output:\n${text}`);
        await Bun.sleep(50);
      }
    },
  };
  return server;
}

/**
 * Writes raw bytes to a server and returns everything it answers until it
 * closes: for requests fetch refuses to send (a malformed Host).
 */
export async function rawHttp(url: string, request: string, timeoutMs = 5_000): Promise<{ status: number; headers: string; body: string; raw: string }> {
  const { hostname, port } = new URL(url);
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ""));
    let data = "";
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no answer within ${timeoutMs} ms; so far:\n${data}`))), timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", (error) => (clearTimeout(timer), reject(error)));
    socket.on("close", () => (clearTimeout(timer), resolve(data)));
  });
  const split = raw.indexOf("\r\n\r\n");
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0), headers: raw.slice(0, split), body: split < 0 ? "" : raw.slice(split + 4), raw };
}

/** An Alertmanager webhook (version 4) notification. */
export function alertmanagerNotification(alerts: { labels: Record<string, string>; status?: "firing" | "resolved"; startsAt?: string; endsAt?: string; fingerprint?: string; annotations?: Record<string, string> }[]): Record<string, unknown> {
  const status = alerts.some((a) => (a.status ?? "firing") === "firing") ? "firing" : "resolved";
  return {
    version: "4",
    groupKey: `{}:{alertname="${alerts[0]?.labels.alertname ?? ""}"}`,
    truncatedAlerts: 0,
    status,
    receiver: "opskit",
    groupLabels: { alertname: alerts[0]?.labels.alertname ?? "" },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "http://127.0.0.1:9093",
    alerts: alerts.map((a) => ({
      status: a.status ?? "firing",
      labels: a.labels,
      annotations: a.annotations ?? {},
      startsAt: a.startsAt ?? new Date(Date.now() - 1000).toISOString(),
      endsAt: a.endsAt ?? (a.status === "resolved" ? new Date().toISOString() : "0001-01-01T00:00:00Z"),
      generatorURL: "http://127.0.0.1:9090/graph",
      ...(a.fingerprint ? { fingerprint: a.fingerprint } : {}),
    })),
  };
}
