// The frame around every page: navigation, the API token field, the pause
// switch (a banner while paused, on every page), connection state, status
// messages, and the shared server-event stream.
import { api, ApiError, type Overview } from "./api.ts";
import { button, h, replaceContent, setText } from "./dom.ts";
import { openEventStream, type StreamMessage, type StreamState } from "./stream.ts";
import { getToken, onTokenChange, setToken } from "./token.ts";
import { refresher, type StepPlace, type ViewContext } from "./view.ts";
import { errorText } from "./widgets.ts";

const navItems: [route: string, name: string, label: string][] = [
  ["#/", "now", "Now"],
  ["#/checks", "checks", "Health"],
  ["#/history", "history", "History"],
  ["#/mttr", "mttr", "MTTR"],
];

export interface Shell {
  main: HTMLElement;
  setActive(routeName: string): void;
  context(signal: AbortSignal, params: string[], query: URLSearchParams): ViewContext;
  /** Where server events go after the shell has seen them (the current view). */
  onMessage: ((message: StreamMessage) => void) | undefined;
  /** Token set or cleared: the view reads again. */
  onTokenChanged: (() => void) | undefined;
}

export function createShell(root: HTMLElement): Shell {
  const life = new AbortController();
  let overview: Overview | undefined;
  const overviewListeners = new Set<(o: Overview) => void>();

  // --- status line and notices ---------------------------------------------
  const statusLine = h("p", { class: "status-line", role: "status", "aria-live": "polite" });
  const notice = h("div", { class: "notice-area" });
  let statusTimer: ReturnType<typeof setTimeout> | undefined;
  const announce = (text: string) => {
    setText(statusLine, "");
    clearTimeout(statusTimer);
    // A fresh text node after a tick makes screen readers read a repeated message again; it goes after a while.
    statusTimer = setTimeout(() => {
      setText(statusLine, text);
      statusTimer = setTimeout(() => setText(statusLine, ""), 6_000);
    }, 30);
  };

  // --- token -----------------------------------------------------------------
  const tokenInput = h("input", { id: "token-input", type: "password", name: "token", autocomplete: "off", spellcheck: "false", "aria-describedby": "token-help" });
  const tokenState = h("span", { id: "token-help", class: "token-state" });
  const forget = button("Forget token", () => {
    setToken(undefined);
    announce("Token forgotten: reads and actions now need it again.");
  }, { class: "secondary", "data-key": "forget-token" });
  const tokenForm = h(
    "form",
    { class: "token-form", "aria-label": "API token" },
    h("label", { for: "token-input" }, "API token"),
    tokenInput,
    h("button", { type: "submit" }, "Use token"),
    forget,
    tokenState,
  );
  tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = tokenInput.value.trim();
    if (!value) {
      tokenInput.focus();
      announce("Paste the server's token first.");
      return;
    }
    tokenInput.value = "";
    setToken(value);
    announce("Token saved for this tab.");
  });
  const showTokenState = () => {
    const has = getToken() !== undefined;
    setText(tokenState, has ? "Token set for this tab" : "No token: the API refuses reads and actions");
    tokenState.classList.toggle("warn", !has);
    forget.hidden = !has;
    tokenInput.placeholder = has ? "saved — paste to replace" : "paste the server's token";
  };

  // --- pause switch ----------------------------------------------------------
  const pauseButton = button("Pause remediation", () => void togglePause(), { class: "pause-toggle", "data-key": "pause-toggle" });
  const banner = h("div", { class: "banner-area" });
  const togglePause = async () => {
    const pausing = !(overview?.paused ?? false);
    pauseButton.disabled = true;
    try {
      const answer = await api.setPaused(pausing);
      announce(answer.paused ? "Automatic remediation paused." : "Automatic remediation resumed.");
      clearNotice();
    } catch (error) {
      reportError(error);
      announce(`Could not ${pausing ? "pause" : "resume"} remediation: ${errorText(error).title}`);
    } finally {
      pauseButton.disabled = false;
      scheduleOverview();
    }
  };
  const renderBanner = () => {
    const paused = overview?.paused ?? false;
    document.body.classList.toggle("is-paused", paused);
    setText(pauseButton, paused ? "Resume remediation" : "Pause remediation");
    pauseButton.setAttribute("aria-pressed", String(paused));
    const parts: HTMLElement[] = [];
    if (paused) {
      parts.push(
        h(
          "div",
          { class: "banner banner-paused", role: "region", "aria-label": "Remediation paused" },
          h("p", {}, h("strong", {}, "Automatic remediation is paused."), " No runbook starts until it is resumed; incidents still open and wait."),
          button("Resume remediation", () => void togglePause(), { "data-key": "resume-banner" }),
        ),
      );
    }
    if (overview?.dryRun) parts.push(h("div", { class: "banner banner-dry", role: "region", "aria-label": "Dry run" }, h("p", {}, h("strong", {}, "Dry run:"), " remediations are decided and recorded, never run.")));
    replaceContent(banner, parts);
  };

  // --- errors ----------------------------------------------------------------
  const clearNotice = () => replaceContent(notice);
  const reportError = (error: unknown) => {
    // A refusal of a request sent before the token changed says nothing about the token now.
    if (error instanceof ApiError && error.unauthorized && error.token !== getToken()) return;
    const { title, detail } = errorText(error);
    const unauthorized = error instanceof ApiError && error.unauthorized;
    replaceContent(
      notice,
      h(
        "div",
        { class: `notice ${unauthorized ? "notice-auth" : ""}`, role: "alert" },
        h("p", {}, h("strong", {}, title), detail ? ` ${detail}` : ""),
        button("Dismiss", clearNotice, { class: "secondary", "data-key": "dismiss-notice" }),
      ),
    );
    if (unauthorized) setStreamState("unauthorized");
  };

  // --- overview --------------------------------------------------------------
  const footer = h("footer", { class: "footer" });
  const readOverview = async () => {
    try {
      overview = await api.overview(life.signal);
      renderBanner();
      const replica = overview.replica ? `replica ${overview.replica.name}${overview.replica.leader ? " (leader)" : ""}` : "";
      replaceContent(footer, h("p", {}, overview.version, replica ? ` · ${replica}` : ""));
      for (const listener of overviewListeners) listener(overview);
    } catch (error) {
      if (!life.signal.aborted) reportError(error);
    }
  };
  const scheduleOverview = refresher(readOverview, life.signal, { quietMs: 150, minIntervalMs: 1_000 });

  // --- event stream ----------------------------------------------------------
  const streamLabel = h("span", { class: "stream-state", role: "status" });
  const setStreamState = (state: StreamState | "none") => {
    const text = { connecting: "Connecting…", open: "Live", retrying: "Reconnecting…", unauthorized: "Not authorized", none: "No token" }[state];
    setText(streamLabel, text);
    streamLabel.dataset.state = state;
  };
  let stream: AbortController | undefined;
  // The step each target of the runs under way is in, from the shared stream: a run's page opened later
  // reads what a quiet step printed so far from here. Bounded: a few runs' worth, dropped when they finish.
  const underWay = new Map<string, Map<string, StepPlace>>();
  const noteRunEvent = (data: string) => {
    if (!data.includes('"type":"step.started"') && !data.includes('"type":"run.finished"')) return;
    let event: { type?: unknown; runId?: unknown; target?: unknown; phase?: unknown; index?: unknown };
    try {
      event = JSON.parse(data) as typeof event;
    } catch {
      return;
    }
    if (typeof event.runId !== "string") return;
    if (event.type === "run.finished") {
      underWay.delete(event.runId);
      return;
    }
    if (typeof event.target !== "string") return;
    const run = underWay.get(event.runId) ?? new Map<string, StepPlace>();
    if (!underWay.has(event.runId)) {
      underWay.set(event.runId, run);
      if (underWay.size > 10) underWay.delete(underWay.keys().next().value!);
    }
    if (run.size < 500 || run.has(event.target)) run.set(event.target, { target: event.target, phase: String(event.phase), index: Number(event.index) || 0 });
  };
  const shell: Shell = {
    main: h("main", { id: "main", tabindex: "-1" }),
    onMessage: undefined,
    onTokenChanged: undefined,
    setActive(routeName) {
      for (const link of nav.querySelectorAll("a")) {
        if (link.dataset.route === routeName) link.setAttribute("aria-current", "page");
        else link.removeAttribute("aria-current");
      }
    },
    context(signal, params, query) {
      return {
        signal,
        params,
        query,
        announce,
        reportError: (error) => {
          if (!signal.aborted) reportError(error);
        },
        overview: () => overview,
        refreshOverview: scheduleOverview,
        onOverview(listener) {
          overviewListeners.add(listener);
          signal.addEventListener("abort", () => overviewListeners.delete(listener), { once: true });
        },
        stepsUnderWay: (runId) => [...(underWay.get(runId)?.values() ?? [])],
      };
    },
  };
  const startStream = () => {
    stream?.abort();
    stream = new AbortController();
    if (!getToken()) {
      setStreamState("none");
      return;
    }
    openEventStream(
      "/api/v1/events",
      {
        onMessage(message) {
          if (message.event === "heal" || message.event === "pause") scheduleOverview();
          else if (message.event === "run") {
            if (/"type":"run\.(started|finished)"/.test(message.data)) scheduleOverview();
            noteRunEvent(message.data);
          }
          shell.onMessage?.(message);
        },
        onState(state) {
          setStreamState(state);
          if (state === "open") scheduleOverview();
        },
      },
      stream.signal,
    );
  };

  // --- layout ----------------------------------------------------------------
  const skip = h("a", { class: "skip-link", href: "#main" }, "Skip to content");
  // The hash is the router's: move focus without changing it.
  skip.addEventListener("click", (event) => {
    event.preventDefault();
    shell.main.focus();
  });
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Pages" },
    h("ul", {}, navItems.map(([href, name, label]) => h("li", {}, h("a", { href, "data-route": name }, label)))),
  );
  const header = h(
    "header",
    { class: "topbar" },
    h("div", { class: "brand-row" }, h("a", { class: "brand", href: "#/" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "opskit"), nav),
    h("div", { class: "controls" }, streamLabel, pauseButton, tokenForm),
  );
  replaceContent(root, skip, header, banner, notice, shell.main, statusLine, footer);

  onTokenChange(() => {
    showTokenState();
    clearNotice();
    startStream();
    scheduleOverview();
    shell.onTokenChanged?.();
  });
  showTokenState();
  startStream();
  void readOverview();
  // The pause switch can be flipped from the CLI, which sends no event: a slow look keeps the banner honest.
  const slow = setInterval(scheduleOverview, 30_000);
  life.signal.addEventListener("abort", () => clearInterval(slow), { once: true });
  return shell;
}
