import { configError } from "../errors.ts";
import { parseHostPatternLines } from "./host-pattern.ts";
import type { InventorySource } from "./types.ts";

/**
 * A plain host list: one `[user@]host[:port]` per line, or a host pattern
 * (`web[01-40].example.com`, `db1,db2`: see host-pattern.ts); `#` comments,
 * IPv6 in brackets. A host named on several lines is one target (resolve.ts
 * merges its definitions).
 */
export const hostListSource: InventorySource = {
  kind: "hosts",
  schema: ({ z }) => z.string().describe("a plain host list: one [user@]host[:port] or host pattern (web[01-40].example.com) per line"),
  async load(text, { display }) {
    return parseHostPatternLines(text, display, configError).map((host) => ({
      name: host.host,
      ...(host.user ? { user: host.user } : {}),
      ...(host.port !== undefined ? { port: host.port } : {}),
      labels: {},
      vars: {},
      groups: [],
      source: host.where,
    }));
  },
};
