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

export interface OutputPane {
  element: HTMLElement;
  /** A chunk of a target's stream; may end mid-line. */
  write(target: string, stream: "stdout" | "stderr", text: string): void;
  /** Ends the partial lines (a step or the run finished). */
  flush(target?: string): void;
  /** Reads the output the server has kept so far (the tail), before live chunks. */
  loadBacklog(signal: AbortSignal): Promise<void>;
  setTargets(targets: readonly string[]): void;
}

export function outputPane(options: { runId: string; outputPath: (target?: string) => string; signal: AbortSignal; announce(text: string): void; reportError(error: unknown): void }): OutputPane {
  const ring = new LineRing(RING_LINES);
  const partial = new Map<string, string>();
  let multiTarget = false;
  let filter = "";
  /** Lines pushed since the last frame drew them. */
  let fresh: OutputLine[] = [];
  let rebuild = true;
  let frame = 0;
  options.signal.addEventListener("abort", () => cancelAnimationFrame(frame), { once: true });

  const log = h("div", { class: "output-log", role: "log", "aria-live": "off", "aria-label": "Run output (latest lines)", tabindex: "0" });
  const follow = h("input", { id: "output-follow", type: "checkbox", checked: true });
  const targetSelect = h("select", { id: "output-target" }, h("option", { value: "" }, "All targets"));
  const count = h("span", { class: "muted", role: "status" });
  const download = button("Download full output", () => void saveOutput(), { class: "secondary", "data-key": "download-output" });
  const element = h(
    "div",
    { class: "output" },
    h(
      "div",
      { class: "toolbar" },
      h("div", { class: "field" }, h("label", { for: "output-target" }, "Target"), targetSelect),
      h("div", { class: "field field-inline" }, follow, h("label", { for: "output-follow" }, "Follow output")),
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
    setText(count, ring.total === 0 ? "No output yet." : `Showing the last ${formatCount(log.childElementCount)} lines of ${formatCount(ring.total)}${ring.total > ring.size ? "; download for the whole" : ""}.`);
    if (follow.checked) log.scrollTop = log.scrollHeight;
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

  /** Streams the kept output and holds only its tail: a 20,000-line output never sits in memory whole. */
  const loadBacklog = async (signal: AbortSignal) => {
    const response = await fetch(options.outputPath(filter || undefined), { headers: authHeaders(), signal: AbortSignal.any([signal, AbortSignal.timeout(60_000)]), credentials: "omit", cache: "no-store" });
    if (!response.ok || !response.body) return;
    const target = filter || "";
    const before = ring.total;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const parts = (rest + value).split(/\r?\n/);
      rest = parts.pop() ?? "";
      for (const text of parts) ring.push({ target, stream: "stdout", text });
    }
    if (rest) ring.push({ target, stream: "stdout", text: rest });
    if (ring.total !== before) {
      rebuild = true;
      requestDraw();
    }
  };

  const saveOutput = async () => {
    download.disabled = true;
    try {
      const response = await fetch(options.outputPath(filter || undefined), { headers: authHeaders(), signal: AbortSignal.any([options.signal, AbortSignal.timeout(120_000)]), credentials: "omit" });
      if (!response.ok) {
        throw new ApiError(response.status, `HTTP_${response.status}`, response.status === 401 ? "missing or wrong bearer token" : `the output could not be read (HTTP ${response.status})`);
      }
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `opskit-run-${options.runId}${filter ? `-${filter.replace(/[^\w.-]+/g, "_")}` : ""}.log`;
      a.hidden = true;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      options.announce(`Downloaded ${formatCount(blob.size)} bytes of output.`);
    } catch (error) {
      if (!options.signal.aborted) options.reportError(error);
    } finally {
      download.disabled = false;
    }
  };

  // Scrolling up to read stops following; scrolling back to the end resumes it.
  log.addEventListener("scroll", () => {
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    if (follow.checked !== atEnd) follow.checked = atEnd;
  }, { passive: true });
  follow.addEventListener("change", () => {
    if (follow.checked) log.scrollTop = log.scrollHeight;
  });
  targetSelect.addEventListener("change", () => {
    filter = targetSelect.value;
    rebuild = true;
    requestDraw();
  });

  return {
    element,
    write,
    flush,
    loadBacklog,
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
