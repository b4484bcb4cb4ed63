import { usageError } from "../errors.ts";
import { registerSecret } from "../observe/index.ts";

/** An HTTP proxy as a probe reaches it; `shown` carries no credentials. */
export interface ProxyServer {
  host: string;
  port: number;
  /** Proxy-Authorization from the URL's userinfo (Basic). */
  authorization: string | undefined;
  shown: string;
}

/** Which proxy each kind of target goes through, and which hosts bypass it. */
export interface ProxyRules {
  http: ProxyServer | undefined;
  https: ProxyServer | undefined;
  noProxy: readonly string[];
}

/** curl's default proxy port. */
const DEFAULT_PORT = 1080;

/** Parses a proxy URL as curl reads one: no scheme means http://, no port 1080; credentials from the userinfo. */
export function parseProxyUrl(text: string, where: string): ProxyServer {
  const withScheme = text.includes("://") ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usageError("E_PROXY_URL", `${where}: not a proxy URL: ${shownProxy(text)}`, "write it as http://[USER:PASSWORD@]HOST:PORT");
  }
  if (url.protocol !== "http:") {
    throw usageError("E_PROXY_URL", `${where}: ${url.protocol}// proxies are not supported`, "give an HTTP proxy, http://HOST:PORT (https:// targets go through it with CONNECT)");
  }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  let authorization: string | undefined;
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    // Masked wherever opskit prints, as every secret is.
    if (password) registerSecret(password);
    registerSecret(authorization.slice(6));
  }
  return { host, port: url.port ? Number(url.port) : DEFAULT_PORT, authorization, shown: `http://${url.host}` };
}

/** A proxy URL as it may be printed: the userinfo cut out. */
export function shownProxy(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#@]*@/i, "$1");
}

const nonEmpty = (value: string | undefined) => (value === undefined || value === "" ? undefined : value);

/**
 * The proxies for a probe run, as curl picks them: `--proxy` for every
 * target; else from the environment, `http_proxy` (lower case only, as curl:
 * the upper-case form can be set by a CGI request's Proxy header) for http://,
 * `https_proxy` or `HTTPS_PROXY` for https://, `all_proxy`/`ALL_PROXY` for
 * either when its own is unset. `--noproxy` replaces `no_proxy`/`NO_PROXY`.
 * Undefined when no proxy applies, so the probe takes its direct path.
 */
export function proxyRules(options: { proxy?: string; noProxy?: string }, env: Record<string, string | undefined> = process.env, where = "--proxy"): ProxyRules | undefined {
  let http: ProxyServer | undefined;
  let https: ProxyServer | undefined;
  if (options.proxy !== undefined) {
    if (options.proxy === "") return undefined;
    http = https = parseProxyUrl(options.proxy, where);
  } else {
    const all = nonEmpty(env.all_proxy) ?? nonEmpty(env.ALL_PROXY);
    const forHttp = nonEmpty(env.http_proxy) ?? all;
    const forHttps = nonEmpty(env.https_proxy) ?? nonEmpty(env.HTTPS_PROXY) ?? all;
    if (forHttp) http = parseProxyUrl(forHttp, forHttp === all ? "all_proxy" : "http_proxy");
    if (forHttps) https = parseProxyUrl(forHttps, forHttps === all ? "all_proxy" : "https_proxy");
  }
  if (!http && !https) return undefined;
  const list = options.noProxy ?? nonEmpty(env.no_proxy) ?? nonEmpty(env.NO_PROXY) ?? "";
  const noProxy = list.split(/[\s,]+/).filter(Boolean).map((entry) => entry.toLowerCase());
  return { http, https, noProxy };
}

/** The proxy a target at `host` goes through, or undefined to go direct. */
export function proxyFor(rules: ProxyRules, tls: boolean, host: string): ProxyServer | undefined {
  const server = tls ? rules.https : rules.http;
  if (!server || bypassesProxy(rules.noProxy, host)) return undefined;
  return server;
}

/**
 * NO_PROXY as curl matches it: `*` alone matches every host; an IP address
 * (or IPv4 CIDR range) matches that address; a name matches itself and every
 * name under it (`example.com` and `.example.com` both match
 * `api.example.com`). Ports are not compared.
 */
export function bypassesProxy(entries: readonly string[], host: string): boolean {
  let name = host.toLowerCase();
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  if (name.endsWith(".")) name = name.slice(0, -1);
  for (const raw of entries) {
    if (raw === "*") return true;
    let entry = raw.startsWith("[") ? raw.slice(1, raw.indexOf("]")) : raw;
    if (entry.includes("/")) {
      if (inCidr(name, entry)) return true;
      continue;
    }
    if (entry.startsWith(".")) entry = entry.slice(1);
    if (entry.endsWith(".")) entry = entry.slice(0, -1);
    if (!entry) continue;
    if (name === entry || name.endsWith(`.${entry}`)) return true;
  }
  return false;
}

function ipv4Number(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

function inCidr(host: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const address = ipv4Number(host);
  const network = ipv4Number(base ?? "");
  const bits = Number(bitsText);
  if (address === undefined || network === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(address / size) === Math.floor(network / size);
}
