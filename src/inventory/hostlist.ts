import { configError } from "../errors.ts";
import type { HostRecord, InventorySource } from "./types.ts";

const entry = /^(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^\s:@[\]]+)(?::(\d+))?$/;

/** A plain host list: one `[user@]host[:port]` per line, `#` comments; IPv6 in brackets. */
export const hostListSource: InventorySource = {
  kind: "hosts",
  schema: ({ z }) => z.string().describe("a plain host list: one [user@]host[:port] per line"),
  async load(text, { display }) {
    const hosts: HostRecord[] = [];
    text.split("\n").forEach((raw, index) => {
      const line = raw.replace(/(^|\s)#.*$/, "").trim();
      if (!line) return;
      const where = `${display}:${index + 1}`;
      const match = entry.exec(line);
      if (!match) throw configError("E_INVENTORY_HOSTLIST", `${where}: cannot read "${line}" as a host`, "write one [user@]host[:port] per line, e.g. deploy@web-1.example.com:2222");
      const [, user, host, port] = match;
      const name = host!.replace(/^\[(.*)\]$/, "$1");
      const portNumber = port === undefined ? undefined : Number(port);
      if (portNumber !== undefined && (portNumber < 1 || portNumber > 65535)) {
        throw configError("E_INVENTORY_HOSTLIST", `${where}: port ${port} is out of range`, "use a port from 1 to 65535");
      }
      hosts.push({
        name,
        ...(user ? { user } : {}),
        ...(portNumber ? { port: portNumber } : {}),
        labels: {},
        vars: {},
        groups: [],
        source: where,
      });
    });
    return hosts;
  },
};
