// Incident actions (approve, deny, acknowledge, resolve) as buttons: one
// place that posts, reports the outcome and lets the page read again.
import { api } from "../api.ts";
import { button } from "../dom.ts";
import type { ViewContext } from "../view.ts";
import { errorText } from "../widgets.ts";

export type IncidentVerb = "approve" | "deny" | "ack" | "resolve";

const labels: Record<IncidentVerb, { text: string; verb: string; done: string; className: string }> = {
  approve: { text: "Approve", verb: "approve", done: "approved: the remediation starts", className: "primary" },
  deny: { text: "Deny", verb: "deny", done: "denied: the remediation will not run", className: "danger" },
  ack: { text: "Acknowledge", verb: "acknowledge", done: "acknowledged", className: "secondary" },
  resolve: { text: "Resolve", verb: "resolve", done: "resolved by hand", className: "secondary" },
};

/** A button that posts the action for one incident; `after` runs on success (read the page again). */
export function incidentAction(context: ViewContext, verb: IncidentVerb, id: number, title: string, after: () => void): HTMLButtonElement {
  const label = labels[verb];
  const b = button(
    label.text,
    async () => {
      b.disabled = true;
      b.setAttribute("aria-busy", "true");
      try {
        await api.incidentAction(id, verb);
        context.announce(`Incident ${id} ${label.done}.`);
        context.refreshOverview();
        after();
      } catch (error) {
        context.reportError(error);
        context.announce(`Could not ${label.verb} incident ${id}: ${errorText(error).title}`);
      } finally {
        b.disabled = false;
        b.removeAttribute("aria-busy");
      }
    },
    { class: label.className, "data-key": `${verb}-${id}`, "aria-label": `${label.text} incident ${id}: ${title}` },
  );
  return b;
}
