// Small pieces several pages share: status badges, label lists, gate lines
// with live countdowns, error boxes.
import { ApiError, type Gate } from "./api.ts";
import { h, maybeLink, type Child } from "./dom.ts";
import { formatCountdown, formatTime, toEpoch } from "./format.ts";

const tones: Record<string, string> = {
  ok: "good", passing: "good", succeeded: "good", resolved: "good", changed: "good", verified: "good",
  failed: "bad", failing: "bad", firing: "bad", unreachable: "bad", escalated: "bad", interrupted: "bad", rejected: "bad", open: "bad",
  running: "busy", queued: "busy", verifying: "busy", pending: "busy", connecting: "busy",
  awaiting_approval: "wait", suppressed: "wait", waiting: "wait", dry_run: "wait", unmatched: "wait", paused: "wait",
  skipped: "neutral", unknown: "neutral", rolled_back: "wait",
};

/** A status as a word with a tone; the word carries the meaning, the color only repeats it. */
export function badge(status: string, label = status.replaceAll("_", " ")): HTMLElement {
  return h("span", { class: `badge tone-${tones[status] ?? "neutral"}` }, label);
}

export function toneOf(status: string): string {
  return tones[status] ?? "neutral";
}

/** Labels as key=value chips, all text. */
export function labelList(labels: Record<string, string> | undefined, skip: readonly string[] = []): HTMLElement | undefined {
  const entries = Object.entries(labels ?? {}).filter(([k]) => !skip.includes(k));
  if (entries.length === 0) return undefined;
  return h(
    "ul",
    { class: "labels", "aria-label": "Labels" },
    entries.map(([key, value]) => h("li", { class: "label" }, h("span", { class: "label-key" }, key), "=", h("span", { class: "label-value" }, String(value)))),
  );
}

/** Annotations as a description list; a value that is an http(s) URL becomes a link, anything else stays text. */
export function annotationList(annotations: Record<string, string> | undefined): HTMLElement | undefined {
  const entries = Object.entries(annotations ?? {});
  if (entries.length === 0) return undefined;
  return h("dl", { class: "annotations" }, entries.map(([key, value]) => [h("dt", {}, key), h("dd", {}, maybeLink(String(value)))]));
}

/** A time element with the local time as text. */
export function timeEl(value: unknown): HTMLElement {
  const at = toEpoch(value);
  return h("time", at === undefined ? {} : { datetime: new Date(at).toISOString() }, formatTime(value));
}

/** The part of a gate reason before a baked-in ", 4m12s left" (the page counts down live instead). */
function reasonWithoutRemaining(reason: string): string {
  return reason.replace(/,\s*[\d.]+(?:ms|s|m\d*s?|h\d*m?)\s+left\s*$/, "");
}

/**
 * A gate's state and reason; a suppression with an end time counts down
 * (`cooldown, 4m12s left`), ticked by tickCountdowns.
 */
export function gateLine(gate: Gate | undefined): HTMLElement | undefined {
  if (!gate) return undefined;
  const parts: Child[] = [badge(gate.state)];
  if (gate.reason || gate.until) {
    const reason = gate.reason ? reasonWithoutRemaining(gate.reason) : "";
    const until = toEpoch(gate.until);
    parts.push(
      h(
        "span",
        { class: "gate-reason" },
        reason,
        until !== undefined ? [reason ? ", " : "", h("span", { class: "countdown", "data-until": String(until) }, countdownText(until)), " left"] : null,
      ),
    );
  }
  return h("span", { class: "gate" }, parts);
}

function countdownText(until: number): string {
  return formatCountdown(until - Date.now());
}

/** Updates every countdown under `root`; returns whether one has run out (the page should read the API again). */
export function tickCountdowns(root: ParentNode): boolean {
  let expired = false;
  for (const el of root.querySelectorAll<HTMLElement>(".countdown[data-until]")) {
    const until = Number(el.dataset.until);
    const text = countdownText(until);
    if (el.textContent !== text) el.textContent = text;
    if (until <= Date.now() && !el.dataset.expired) {
      el.dataset.expired = "1";
      expired = true;
    }
  }
  return expired;
}

/** What a failed request means for the person reading the page. */
export function errorText(error: unknown): { title: string; detail?: string } {
  if (error instanceof ApiError) {
    if (error.status === 401) return { title: "Not authorized (401): the API token is missing or wrong.", detail: "Paste the server's token into the API token field above." };
    if (error.status === 0) return { title: error.message, ...(error.hint ? { detail: error.hint } : {}) };
    return { title: `${error.message} (${error.status} ${error.code})`, ...(error.hint ? { detail: error.hint } : {}) };
  }
  return { title: error instanceof Error ? error.message : String(error) };
}

export function errorBox(error: unknown): HTMLElement {
  const { title, detail } = errorText(error);
  return h("div", { class: "error-box", role: "alert" }, h("p", { class: "error-title" }, title), detail ? h("p", {}, detail) : null);
}

export function emptyState(text: string): HTMLElement {
  return h("p", { class: "empty" }, text);
}

/** A section with a heading (landmark-friendly: headings give screen readers the outline). */
export function section(title: string, id: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}
