import { isAbsolute, resolve } from "node:path";
import { ExitCode, OpsError } from "../errors.ts";
import { resolveSecret } from "../schema/index.ts";
import { proxyRules } from "./proxy.ts";
import { readTlsFiles } from "./tls-files.ts";
import type { ProbeSettings } from "./types.ts";

/**
 * How a configured probe (a check, a /probe module) talks to its target, as
 * opskit.yaml spells it: the same choices as opskit probe's -L, --max-redirs,
 * --proxy, --noproxy, --ca, --cert, --key and --insecure.
 */
export interface ProbeClientFields {
  followRedirects?: boolean;
  maxRedirects?: number;
  /** A URL, or a secret reference (env:NAME, file:/path) to one with credentials; "" for none. */
  proxy?: string;
  noProxy?: string | string[];
  tls?: { ca?: string; cert?: string; key?: string; insecure?: boolean };
}

/**
 * The settings those fields make, over `base`; files relative to `baseDir`;
 * errors are config errors naming `at(field)`. Without `proxy` the
 * environment's proxies apply, as for opskit probe.
 */
export async function clientSettings(fields: ProbeClientFields, base: ProbeSettings, baseDir: string, at: (...path: string[]) => string): Promise<ProbeSettings> {
  const settings: ProbeSettings = { ...base };
  if (fields.followRedirects) settings.redirects = (fields.maxRedirects ?? 50) < 0 ? Number.POSITIVE_INFINITY : (fields.maxRedirects ?? 50);
  const proxy = fields.proxy === undefined || fields.proxy === "" ? fields.proxy : await resolveSecret(fields.proxy, at("proxy"));
  const noProxy = Array.isArray(fields.noProxy) ? fields.noProxy.join(",") : fields.noProxy;
  try {
    const rules = proxyRules({ proxy, noProxy }, process.env, at("proxy"));
    if (rules) settings.proxy = rules;
  } catch (error) {
    throw error instanceof OpsError ? new OpsError({ code: error.code, message: error.message, hint: error.hint, exitCode: ExitCode.config }) : error;
  }
  const tls = fields.tls;
  if (tls) {
    const file = (path: string | undefined) => (path === undefined || isAbsolute(path) ? path : resolve(baseDir, path));
    const material = await readTlsFiles({ ca: file(tls.ca), cert: file(tls.cert), key: file(tls.key) }, { ca: at("tls", "ca"), cert: at("tls", "cert"), key: at("tls", "key") }, ExitCode.config);
    if (material.ca) settings.ca = material.ca;
    if (material.clientCert) settings.clientCert = material.clientCert;
    if (tls.insecure !== undefined) settings.insecure = tls.insecure;
  }
  return settings;
}
