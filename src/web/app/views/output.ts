// A run's output as it comes: lines kept in a capped ring (memory stays
// bounded whatever the run prints), only the tail in the DOM, updates batched
// per animation frame, following the end unless the reader scrolls up.
import { ApiError, authHeaders } from "../api.ts";
import { button, h, setText } from "../dom.ts";
import { formatCount } from "../format.ts";

/** Lines the page keeps in memory, across targets. */
const RING_LINES = 2_000;
/** Lines in the DOM at most. */
const DOM_LINES = 500;
/** A line without a newline is cut here, so one endless line cannot grow without bound. */
const MAX_PARTIAL_CHARS = 64 * 1024;

export interface OutputLine {
  target: string;
  stream: "stdout" | "stderr";
  text: string;
}

/** A fixed-size ring of lines: pushing the (capacity+1)th drops the oldest. */
export class LineRing {
  private readonly lines: (OutputLine | undefined)[];
  private start = 0;
  size = 0;
  /** Every line ever pushed, kept or not. */
  total = 0;

  constructor(readonly capacity: number) {
    this.lines = new Array<OutputLine | undefined>(capacity);
  }

  push(line: OutputLine): void {
    const end = (this.start + this.size) % this.capacity;
    this.lines[end] = line;
    if (this.size < this.capacity) this.size++;
    else this.start = (this.start + 1) % this.capacity;
    this.total++;
  }

  /** The last `count` lines that pass `keep`, oldest first. */
  tail(count: number, keep: (line: OutputLine) => boolean = () => true): OutputLine[] {
    const out: OutputLine[] = [];
    for (let i = this.size - 1; i >= 0 && out.length < count; i--) {
      const line = this.lines[(this.start + i) % this.capacity]!;
      if (keep(line)) out.push(line);
    }
    return out.reverse();
  }

  clear(): void {
    this.lines.fill(undefined);
    this.start = 0;
    this.size = 0;
    this.total = 0;
  }
}

/** A finished step as the run's summary lists it, with how much each stream printed. */
export interface StepWithOutput {
  target: string;
  phase: string;
  index: number;
  name: string;
  startedAt: string;
  stdoutBytes?: number;
  stderrBytes?: number;
}

/** One chunk of a step's stream as the run's event stream sends it: `offset` is how many characters of that stream came before. */
export interface OutputChunk {
  target: string;
  phase: string;
  index: number;
  stream: "stdout" | "stderr";
  text: string;
  offset: number;
}

export interface OutputPane {
  element: HTMLElement;
  /** A chunk from the event stream; a step first seen mid-way has its start read from the server first. */
  live(chunk: OutputChunk): void;
  /** Ends the partial lines (a step or the run finished). */
  flush(target?: string): void;
  /** The run's finished steps: the last of them with output are read for the tail, and all for the download. */
  setSteps(steps: readonly StepWithOutput[]): Promise<void>;
  /** Steps under way: their output so far is read, then followed live. */
  follow(running: readonly { target: string; phase: string; index: number }[]): void;
  setTargets(targets: readonly string[]): void;
}

/** Finished steps whose output is read when the page opens: the tail needs only the latest. */
const BACKLOG_STEPS = 20;
/** Step outputs read at once for the download. */
const DOWNLOAD_CONCURRENCY = 4;

const streamKey = (c: { target: string; phase: string; index: number; stream: string }) => `${c.target}\0${c.phase}\0${c.index}\0${c.stream}`;

export function outputPane(options: { runId: string; outputPath: (params: Record<string, string | number>) => string; signal: AbortSignal; announce(text: string): void; reportError(error: unknown): void }): OutputPane {
  const ring = new LineRing(RING_LINES);
  const partial = new Map<string, string>();
  /** Characters of each step's stream already shown, so a chunk read twice (backlog and live) is shown once. */
  const seen = new Map<string, number>();
  /** Streams whose start is being read: their live chunks wait here meanwhile. */
  const waiting = new Map<string, OutputChunk[]>();
  let steps: StepWithOutput[] = [];
  const liveSteps = new Map<string, { target: string; phase: string; index: number }>();
  let multiTarget = false;
  let filter = "";
  /** Lines pushed since the last frame drew them. */
  let fresh: OutputLine[] = [];
  let rebuild = true;
  let frame = 0;
  options.signal.addEventListener("abort", () => cancelAnimationFrame(frame), { once: true });

  const log = h("div", { class: "output-log", role: "log", "aria-live": "off", "aria-label": "Run output (latest lines)", tabindex: "0" });
  const followBox = h("input", { id: "output-follow", type: "checkbox", checked: true });
  const targetSelect = h("select", { id: "output-target" }, h("option", { value: "" }, "All targets"));
  const count = h("span", { class: "muted", role: "status" });
  const download = button("Download full output", () => void saveOutput(), { class: "secondary", "data-key": "download-output" });
  const element = h(
    "div",
    { class: "output" },
    h(
      "div",
      { class: "toolbar" },
      h("div", { class: "field", hidden: true }, h("label", { for: "output-target" }, "Target"), targetSelect),
      h("div", { class: "field field-inline" }, followBox, h("label", { for: "output-follow" }, "Follow output")),
      download,
      count,
    ),
    log,
  );

  const keep = (line: OutputLine) => !filter || line.target === filter;

  const lineNode = (line: OutputLine): HTMLElement =>
    h("div", { class: line.stream === "stderr" ? "line stderr" : "line" }, multiTarget ? h("span", { class: "line-target" }, `${line.target} `) : null, line.text);

  const draw = () => {
    frame = 0;
    if (rebuild) {
      log.replaceChildren(...ring.tail(DOM_LINES, keep).map(lineNode));
      rebuild = false;
    } else {
      const lines = fresh.filter(keep);
      if (lines.length >= DOM_LINES) log.replaceChildren(...lines.slice(-DOM_LINES).map(lineNode));
      else if (lines.length > 0) {
        const fragment = document.createDocumentFragment();
        for (const line of lines) fragment.appendChild(lineNode(line));
        log.appendChild(fragment);
        for (let extra = log.childElementCount - DOM_LINES; extra > 0; extra--) log.firstElementChild!.remove();
      }
    }
    fresh = [];
    setText(count, ring.total === 0 ? "No output yet." : `Showing the last ${formatCount(log.childElementCount)} lines of ${formatCount(ring.total)}${ring.total > log.childElementCount ? "; the download has all of it" : ""}.`);
    if (followBox.checked) log.scrollTop = log.scrollHeight;
  };

  const requestDraw = () => {
    if (!frame) frame = requestAnimationFrame(draw);
  };

  const push = (line: OutputLine) => {
    ring.push(line);
    fresh.push(line);
    // More than a screen's worth waiting: only the last lines can be drawn anyway.
    if (fresh.length > DOM_LINES * 2) fresh = fresh.slice(-DOM_LINES);
  };

  const write = (target: string, stream: "stdout" | "stderr", text: string) => {
    const key = `${stream}\0${target}`;
    const joined = (partial.get(key) ?? "") + text;
    const parts = joined.split(/\r?\n/);
    let rest = parts.pop() ?? "";
    for (const part of parts) push({ target, stream, text: part });
    if (rest.length > MAX_PARTIAL_CHARS) {
      push({ target, stream, text: rest });
      rest = "";
    }
    if (rest) partial.set(key, rest);
    else partial.delete(key);
    requestDraw();
  };

  const flush = (target?: string) => {
    for (const [key, rest] of [...partial]) {
      const [stream, name] = key.split("\0") as ["stdout" | "stderr", string];
      if (target !== undefined && name !== target) continue;
      push({ target: name, stream, text: rest });
      partial.delete(key);
    }
    requestDraw();
  };

  /** Reads one stream of one step: its text and how many characters the server cut from its start. */
  const readStream = async (step: { target: string; phase: string; index: number }, stream: "stdout" | "stderr", signal: AbortSignal): Promise<{ text: string; dropped: number } | undefined> => {
    const response = await fetch(options.outputPath({ target: step.target, phase: step.phase, index: step.index, stream }), {
      headers: authHeaders(),
      signal: AbortSignal.any([signal, AbortSignal.timeout(60_000)]),
      credentials: "omit",
      cache: "no-store",
    });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new ApiError(response.status, `HTTP_${response.status}`, response.status === 401 ? "missing or wrong bearer token" : `the output could not be read (HTTP ${response.status})`);
    return { text: await response.text(), dropped: Number(response.headers.get("x-output-dropped") ?? 0) || 0 };
  };

  /** Shows a chunk once: what of it was shown already (read before, or sent twice) is skipped, a gap is marked. */
  const deliver = (chunk: OutputChunk) => {
    const key = streamKey(chunk);
    const have = seen.get(key) ?? 0;
    const end = chunk.offset + chunk.text.length;
    if (end <= have) return;
    if (chunk.offset > have) write(chunk.target, chunk.stream, `\n[… ${formatCount(chunk.offset - have)} characters not received …]\n`);
    write(chunk.target, chunk.stream, chunk.offset < have ? chunk.text.slice(have - chunk.offset) : chunk.text);
    seen.set(key, end);
  };

  /**
   * Reads what a step's stream printed before the page was watching, then
   * shows the live chunks that arrived meanwhile (held until then).
   */
  const catchUp = (step: { target: string; phase: string; index: number }, stream: "stdout" | "stderr", first?: OutputChunk) => {
    const key = streamKey({ ...step, stream });
    waiting.set(key, first ? [first] : []);
    void readStream(step, stream, options.signal)
      .then((start) => {
        if (!start || seen.has(key)) return;
        if (start.dropped > 0) write(step.target, stream, `[… the first ${formatCount(start.dropped)} characters are no longer kept …]\n`);
        seen.set(key, start.dropped);
        deliver({ ...step, stream, offset: start.dropped, text: start.text });
      })
      .catch((error: unknown) => {
        if (!options.signal.aborted) options.reportError(error);
      })
      .finally(() => {
        const queued = waiting.get(key) ?? [];
        waiting.delete(key);
        for (const c of queued) deliver(c);
      });
  };

  const live = (chunk: OutputChunk) => {
    const key = streamKey(chunk);
    liveSteps.set(`${chunk.target}\0${chunk.phase}\0${chunk.index}`, { target: chunk.target, phase: chunk.phase, index: chunk.index });
    const queue = waiting.get(key);
    if (queue) queue.push(chunk);
    else if (seen.has(key) || chunk.offset === 0) deliver(chunk);
    // The page opened while this step was printing: read what came before, then go on live.
    else catchUp(chunk, chunk.stream, chunk);
  };

  /** Steps under way when the page opened: what they printed so far (a quiet step sends no chunk to start from). */
  const follow = (running: readonly { target: string; phase: string; index: number }[]) => {
    for (const step of running) {
      liveSteps.set(`${step.target}\0${step.phase}\0${step.index}`, step);
      for (const stream of ["stdout", "stderr"] as const) {
        const key = streamKey({ ...step, stream });
        if (!seen.has(key) && !waiting.has(key)) catchUp(step, stream);
      }
    }
  };

  /** The latest finished steps' output, oldest first, before anything live. */
  const setSteps = async (list: readonly StepWithOutput[]) => {
    steps = [...list].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    const withOutput = steps.filter((s) => (s.stdoutBytes ?? 1) > 0 || (s.stderrBytes ?? 1) > 0);
    for (const step of withOutput.slice(-BACKLOG_STEPS)) {
      for (const stream of ["stdout", "stderr"] as const) {
        const bytes = stream === "stdout" ? step.stdoutBytes : step.stderrBytes;
        const key = streamKey({ ...step, stream });
        if (bytes === 0 || seen.has(key) || waiting.has(key)) continue;
        const read = await readStream(step, stream, options.signal);
        if (!read || seen.has(key) || waiting.has(key)) continue;
        seen.set(key, read.dropped);
        deliver({ target: step.target, phase: step.phase, index: step.index, stream, text: read.text, offset: read.dropped });
      }
      flush(step.target);
    }
  };

  /** Every step's output, read a few at a time, as one file: a section per step and stream. */
  const saveOutput = async () => {
    download.disabled = true;
    try {
      const all = new Map<string, { target: string; phase: string; index: number; name?: string }>();
      for (const s of steps) all.set(`${s.target}\0${s.phase}\0${s.index}`, s);
      for (const [key, s] of liveSteps) if (!all.has(key)) all.set(key, s);
      const list = [...all.values()].filter((s) => !filter || s.target === filter);
      const parts: string[][] = list.map(() => []);
      let next = 0;
      let done = 0;
      const worker = async () => {
        while (next < list.length) {
          const i = next++;
          const step = list[i]!;
          for (const stream of ["stdout", "stderr"] as const) {
            const read = await readStream(step, stream, options.signal);
            if (!read || read.text === "") continue;
            parts[i]!.push(`==> ${step.target} · ${step.phase} ${step.index}${step.name ? ` ${step.name}` : ""} · ${stream}${read.dropped ? ` (first ${read.dropped} characters not kept)` : ""} <==\n`, read.text, read.text.endsWith("\n") ? "\n" : "\n\n");
          }
          done++;
          if (list.length > 20 && done % 20 === 0) setText(download, `Downloading… ${done} of ${list.length} steps`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(DOWNLOAD_CONCURRENCY, list.length) }, worker));
      const blob = new Blob(parts.flat(), { type: "text/plain;charset=utf-8" });
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `opskit-run-${options.runId.replace(/[^\w.-]+/g, "_")}${filter ? `-${filter.replace(/[^\w.-]+/g, "_")}` : ""}.log`;
      a.hidden = true;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      options.announce(`Downloaded the output of ${list.length} steps (${formatCount(blob.size)} bytes).`);
    } catch (error) {
      if (!options.signal.aborted) options.reportError(error);
    } finally {
      setText(download, "Download full output");
      download.disabled = false;
    }
  };

  // Scrolling up to read stops following; scrolling back to the end resumes it.
  log.addEventListener("scroll", () => {
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    if (followBox.checked !== atEnd) followBox.checked = atEnd;
  }, { passive: true });
  followBox.addEventListener("change", () => {
    if (followBox.checked) log.scrollTop = log.scrollHeight;
  });
  targetSelect.addEventListener("change", () => {
    filter = targetSelect.value;
    rebuild = true;
    requestDraw();
  });

  return {
    element,
    live,
    flush,
    setSteps,
    follow,
    setTargets(targets) {
      multiTarget = targets.length > 1;
      targetSelect.closest(".field")!.toggleAttribute("hidden", !multiTarget);
      const known = new Set([...targetSelect.options].map((o) => o.value));
      const fragment = document.createDocumentFragment();
      for (const t of targets) if (!known.has(t)) fragment.appendChild(h("option", { value: t }, t));
      targetSelect.appendChild(fragment);
    },
  };
}
