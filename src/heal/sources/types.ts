import type { Alert } from "../alert.ts";

/**
 * One kind of alert sender: Alertmanager, a generic webhook, Grafana, or
 * opskit's own checks. A source that arrives over HTTP names its webhook
 * route; the server mounts it, the healer reads the bodies it stored back
 * with the same `parse`. Adding a source is one file implementing this and
 * one line in `index.ts`.
 */
export interface AlertSource {
  /** Stored with each notification and incident, and the `source` label of the alert metrics. */
  kind: string;
  /** The webhook: its path, and its name in the request metrics. Absent for alerts raised inside the server (checks). */
  route?: { path: string; endpoint: string };
  /**
   * Reads one notification's JSON body into its alerts, each stamped with
   * this kind. `receivedAt` (epoch ms) stands in for a start time the sender
   * left out. A body it cannot read throws an OpsError E_ALERT_PAYLOAD that
   * names the JSON path (the webhook answers 400 with it).
   */
  parse(body: unknown, receivedAt: number): Alert[];
}
