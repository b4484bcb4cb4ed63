import { isIP } from "node:net";
import { isLoopback, problem } from "./http.ts";

// What a browser can make a server do without a token's help: a page on
// another site can post forms and text/plain bodies (no preflight), and a
// name it controls can be re-pointed at 127.0.0.1 (DNS rebinding), which
// makes its requests same-origin but leaves its own name in Host. So the
// server answers only its own names, refuses foreign origins, and reads
// only JSON bodies, which a page cannot send cross-site without a
// preflight we never grant.

export interface HostRules {
  /** The listen address's host, without brackets. */
  listenHost: string;
  /** The port actually bound. */
  port: number;
  /** server.publicUrl, the address clients use through a proxy or a DNS name. */
  publicUrl?: URL;
}

interface HostHeader {
  /** Lower case; IPv6 without brackets. */
  name: string;
  port: number | undefined;
}

/** Splits a Host header (RFC 9110 §7.2: uri-host [":" port]); undefined when malformed. */
export function parseHostHeader(value: string): HostHeader | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._~-]+))(?::(\d{1,5}))?$/.exec(value);
  if (!match) return undefined;
  if (match[1] !== undefined && isIP(match[1]) !== 6) return undefined;
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { name: (match[1] ?? match[2]!).toLowerCase(), port };
}

const wildcard = (host: string) => host === "0.0.0.0" || host === "::" || host === "";
const defaultPort = (url: URL) => (url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80);

/**
 * Whether a Host names this server: the listen address, a loopback name or
 * address (localhost, 127.0.0.0/8, [::1]) with the bound port, or
 * server.publicUrl. On a wildcard listen address any IP literal with the
 * port is accepted too: an IP address cannot be re-pointed, only a name can.
 */
export function hostAllowed(host: HostHeader, rules: HostRules): boolean {
  if (rules.publicUrl) {
    const publicName = rules.publicUrl.hostname.replace(/^\[|\]$/g, "").toLowerCase();
    if (host.name === publicName && (host.port ?? defaultPort(rules.publicUrl)) === defaultPort(rules.publicUrl)) return true;
  }
  if ((host.port ?? 80) !== rules.port) return false;
  const name = host.name.replace(/\.$/, "");
  if (name === "localhost" || isLoopback(name)) return true;
  if (name === rules.listenHost.toLowerCase()) return true;
  return wildcard(rules.listenHost) && isIP(name) !== 0;
}

/**
 * The Host values a set of rules allowed, remembered (at most a few per
 * rules), so the steady stream of requests that name the server the same way
 * skips parsing and matching: a few µs a request, measured in an alert storm.
 */
const allowedHosts = new WeakMap<HostRules, Set<string>>();
const ALLOWED_HOSTS_KEPT = 16;

/** 400 or 421 for a Host this server does not answer to; undefined when it does. */
export function checkHost(request: Request, rules: HostRules): Response | undefined {
  const raw = request.headers.get("host");
  const known = allowedHosts.get(rules);
  if (raw !== null && known?.has(raw)) return undefined;
  const hint = () => {
    const own = `http://${rules.listenHost.includes(":") ? `[${rules.listenHost}]` : rules.listenHost}:${rules.port}`;
    return `call ${wildcard(rules.listenHost) ? `http://127.0.0.1:${rules.port}` : own}${rules.publicUrl ? ` or ${rules.publicUrl.origin}` : ""}; a name of its own needs server.publicUrl`;
  };
  if (raw === null) return problem(400, "E_HOST", "the request has no Host header", hint());
  const host = parseHostHeader(raw);
  if (!host) return problem(400, "E_HOST", "the Host header is malformed", hint());
  if (!hostAllowed(host, rules)) return problem(421, "E_HOST", `this server does not answer to Host ${JSON.stringify(raw.slice(0, 255))}`, hint());
  if (!known) allowedHosts.set(rules, new Set([raw]));
  else if (known.size < ALLOWED_HOSTS_KEPT) known.add(raw);
  return undefined;
}

/** 403 when an Origin header is present and is not the server's own origin (the Host it was called by, or server.publicUrl's). */
export function checkOrigin(request: Request, rules: HostRules): Response | undefined {
  const origin = request.headers.get("origin");
  if (origin === null) return undefined;
  const own = new Set<string>();
  try {
    own.add(new URL(`http://${request.headers.get("host")}`).origin);
  } catch {}
  if (rules.publicUrl) own.add(rules.publicUrl.origin);
  if (own.has(origin.toLowerCase())) return undefined;
  return problem(403, "E_ORIGIN", `requests from origin ${JSON.stringify(origin.slice(0, 255))} are refused`, "call the API from the opskit CLI, curl or a page served from the server's own origin");
}

/** 415 when a request carries a body (or says it does) that is not application/json. */
export function checkJsonBody(request: Request): Response | undefined {
  const type = request.headers.get("content-type");
  const length = request.headers.get("content-length");
  const hasBody = request.headers.has("transfer-encoding") || (length !== null && length.trim() !== "0");
  if (type === null && !hasBody) return undefined;
  if (type !== null && isJsonMediaType(type)) return undefined;
  return problem(415, "E_MEDIA_TYPE", `the body must be application/json${type === null ? "" : `, not ${JSON.stringify(type.slice(0, 100))}`}`, "send Content-Type: application/json with a JSON body");
}

/** The Content-Type value last found to be JSON: senders repeat theirs on every request. */
let lastJsonType: string | undefined;

function isJsonMediaType(value: string): boolean {
  if (value === lastJsonType) return true;
  if (!parseJsonMediaType(value)) return false;
  lastJsonType = value;
  return true;
}

function parseJsonMediaType(value: string): boolean {
  const [essence, ...parameters] = value.split(";").map((part) => part.trim().toLowerCase());
  if (essence !== "application/json") return false;
  // JSON is UTF-8 (RFC 8259 §8.1); a body declared in another charset would be misread.
  return parameters.every((p) => !p.startsWith("charset=") || p.replace(/"/g, "") === "charset=utf-8");
}
