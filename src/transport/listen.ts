import { usageError } from "../errors.ts";

/**
 * Splits "host:port" ("[::1]:port" for IPv6). Written by hand rather than
 * with URL, which drops an explicit :80 and cannot tell it from no port.
 */
export function parseListen(listen: string): { hostname: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(listen.trim());
  const port = Number(match?.[2]);
  if (!match || port > 65535) {
    throw usageError("E_USAGE_LISTEN", `listen address "${listen}" is not host:port`, "write it as 127.0.0.1:9797, [::1]:9797, or port 0 for a free port");
  }
  const host = match[1]!;
  return { hostname: host.startsWith("[") ? host.slice(1, -1) : host, port };
}
