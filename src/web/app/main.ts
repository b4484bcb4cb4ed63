// The dashboard's entry: builds the frame, and on every hash change swaps in
// the page the route names, ending the previous one (its requests, timers and
// listeners go with its signal, so an open tab's memory stays flat).
import { h } from "./dom.ts";
import { parseRoute, type Route } from "./router.ts";
import { createShell } from "./shell.ts";
import type { View, ViewFactory } from "./view.ts";
import { checksView } from "./views/checks.ts";
import { historyView } from "./views/history.ts";
import { incidentView } from "./views/incident.ts";
import { mttrView } from "./views/mttr.ts";
import { nowView } from "./views/now.ts";
import { runView } from "./views/run.ts";

const views: Record<string, ViewFactory> = {
  now: nowView,
  checks: checksView,
  incident: incidentView,
  run: runView,
  history: historyView,
  mttr: mttrView,
  notfound: (context) => ({
    title: "Not found",
    root: h("div", {}, h("h1", {}, "No such page"), h("p", {}, "The address names no page of the dashboard. ", h("a", { href: "#/" }, "Go to Now"), ".")),
    refresh: async () => {
      void context;
    },
  }),
};

function start(): void {
  const root = document.getElementById("app");
  if (!root) return;
  const shell = createShell(root);
  let current: { view: View; life: AbortController; key: string } | undefined;

  const show = (route: Route, focus: boolean) => {
    const key = `${route.name}:${route.params.join("/")}?${route.query.toString()}`;
    if (current?.key === key) return;
    current?.life.abort();
    const life = new AbortController();
    const view = views[route.name]!(shell.context(life.signal, route.params, route.query));
    current = { view, life, key };
    shell.setActive(route.name);
    shell.main.replaceChildren(view.root);
    document.title = `${view.title} · opskit`;
    if (focus) shell.main.focus({ preventScroll: true });
    void view.refresh();
  };

  shell.onMessage = (message) => current?.view.onEvent?.(message);
  shell.onTokenChanged = () => void current?.view.refresh();
  window.addEventListener("hashchange", () => {
    const route = parseRoute(location.hash);
    if (route) show(route, true);
  });
  show(parseRoute(location.hash) ?? parseRoute("#/")!, false);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
else start();
