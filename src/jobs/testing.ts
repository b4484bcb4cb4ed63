// For the queue's tests and benchmark: worker processes (testdata/queue-worker.ts)
// started in bun processes of their own, whose JSON lines are followed.
// Databases come from test/harness/postgres.ts.

export interface WorkerLine {
  event: "ready" | "start" | "done";
  pid: number;
  at: number;
  id?: string;
  key?: string;
  attempt?: number;
}

export interface WorkerProcess {
  pid: number;
  lines: WorkerLine[];
  /** Resolves with the first line (seen or to come) that `match` accepts; rejects after timeoutMs or if the process exits first. */
  waitFor(match: (line: WorkerLine) => boolean, timeoutMs: number): Promise<WorkerLine>;
  kill(signal?: NodeJS.Signals): void;
  exited: Promise<number>;
}

export interface WorkerSpec {
  url: string;
  library: "pg-boss" | "graphile-worker";
  effects: string;
  queue?: string;
  concurrency?: number;
  mode?: "work" | "hold";
  workMs?: number;
}

const workerScript = new URL("./testdata/queue-worker.ts", import.meta.url).pathname;

/** Starts testdata/queue-worker.ts in a bun process of its own and follows its lines. */
export function spawnWorker(spec: WorkerSpec): WorkerProcess {
  const child = Bun.spawn([process.execPath, workerScript], {
    env: {
      ...process.env,
      JOBS_URL: spec.url,
      JOBS_LIBRARY: spec.library,
      JOBS_QUEUE: spec.queue ?? "remediation",
      JOBS_CONCURRENCY: String(spec.concurrency ?? 1),
      JOBS_EFFECTS: spec.effects,
      JOBS_MODE: spec.mode ?? "work",
      JOBS_WORK_MS: String(spec.workMs ?? 0),
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines: WorkerLine[] = [];
  const waiters = new Set<{ match: (line: WorkerLine) => boolean; resolve(line: WorkerLine): void }>();
  let ended = false;
  const exited = child.exited;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!text.startsWith("{")) continue;
        const line = JSON.parse(text) as WorkerLine;
        lines.push(line);
        for (const waiter of waiters) if (waiter.match(line)) waiter.resolve(line);
      }
    }
  })().finally(() => (ended = true));
  return {
    pid: child.pid,
    lines,
    exited,
    kill: (signal = "SIGKILL") => child.kill(signal),
    waitFor(match, timeoutMs) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (line: WorkerLine) => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`worker ${child.pid}: no matching line within ${timeoutMs} ms${ended ? " (it exited)" : ""}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() =>
          setTimeout(() => {
            if (!waiters.has(waiter)) return;
            clearTimeout(timer);
            waiters.delete(waiter);
            reject(new Error(`worker ${child.pid} exited with ${child.exitCode ?? child.signalCode} before a matching line`));
          }, 100),
        );
      });
    },
  };
}
