// The silences API, in Alertmanager's API v2 shapes where they fit: matchers
// as { name, value, isRegex, isEqual }, createdBy and comment, startsAt and
// endsAt (ISO 8601 or epoch ms in; epoch ms out, as every opskit time), and
// status.state active, pending or expired.
import { ExitCode, OpsError } from "../errors.ts";
import { parseMatchers, silenceListed, silenceState, type SilenceState } from "../heal/index.ts";
import type { SilenceMatcher, SilenceRecord } from "../journal/index.ts";
import type { AppOptions } from "./app.ts";
import { json, problemFrom, readBody } from "./http.ts";
import { QueryParams } from "./params.ts";
import type { Route } from "./route.ts";

const MAX_BODY = 64 * 1024;
const MAX_MATCHERS = 64;

function badBody(message: string, hint = 'send {"matchers": [{"name": "alertname", "value": "ApiDown", "isRegex": false, "isEqual": true}], "endsAt": "2026-12-06T20:00:00Z", "createdBy": "alice", "comment": "migration"}'): OpsError {
  return new OpsError({ code: "E_BODY", message, hint, exitCode: ExitCode.usage });
}

/** A JSON object body (an empty body is {}). */
export async function readObjectBody(request: Request): Promise<Record<string, unknown>> {
  const text = await readBody(request, MAX_BODY);
  if (text === undefined) throw badBody(`the body is over ${MAX_BODY / 1024} KiB`);
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badBody(`malformed JSON: ${(error as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw badBody("the body is not a JSON object");
  return value as Record<string, unknown>;
}

/** A text field of at most `max` characters; undefined when absent or empty. */
export function textField(body: Record<string, unknown>, name: string, max: number): string | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw badBody(`${name} is not a string`, `send ${name} as text`);
  if (v.length > max) throw badBody(`${name} is longer than ${max} characters`, `shorten ${name}`);
  return v;
}

function timeField(body: Record<string, unknown>, name: string): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  const at = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(at)) throw badBody(`${name} is not a time`, `send ${name} as ISO 8601 (2026-12-06T20:00:00Z) or epoch milliseconds`);
  return at;
}

function matchersField(body: Record<string, unknown>): SilenceMatcher[] {
  const v = body.matchers;
  // amtool's text form is taken too: "{alertname=ApiDown, service=~\"api.*\"}".
  if (typeof v === "string") return parseMatchers(v);
  if (!Array.isArray(v) || v.length === 0) throw badBody("matchers is missing: a silence needs at least one");
  if (v.length > MAX_MATCHERS) throw badBody(`at most ${MAX_MATCHERS} matchers`);
  return v.map((m: unknown, i) => {
    const r = (m ?? {}) as Record<string, unknown>;
    if (typeof r.name !== "string" || typeof r.value !== "string" || typeof r.isRegex !== "boolean" || (r.isEqual !== undefined && typeof r.isEqual !== "boolean")) {
      throw badBody(`matchers[${i}] needs name and value (text), isRegex and isEqual (true or false)`);
    }
    return { name: r.name, value: r.value, isRegex: r.isRegex, isEqual: r.isEqual !== false };
  });
}

/** A silence as the API shows it: the record and its state now. */
export const silenceView = (silence: SilenceRecord, now = Date.now()) => ({ ...silence, status: { state: silenceState(silence, now) } });

export function silenceRoutes(options: AppOptions): Route[] {
  const { journal, healer } = options;
  return [
    {
      method: "GET",
      pattern: /^\/api\/v1\/silences$/,
      endpoint: "silences",
      access: "api",
      handle: async (request) => {
        try {
          const query = new QueryParams(request.url);
          const state = query.oneOf("state", ["active", "pending", "expired", "all"] as const);
          const filterText = query.text("filter", 4000);
          const filter = filterText ? parseMatchers(filterText) : [];
          const now = Date.now();
          const wanted: ReadonlySet<SilenceState> = new Set(state === "all" ? ["active", "pending", "expired"] : state ? [state] : ["active", "pending"]);
          const all = await journal.listSilences(wanted.has("expired") ? {} : { endsAfter: now });
          return json({ silences: all.filter((s) => wanted.has(silenceState(s, now)) && silenceListed(s, filter)).map((s) => silenceView(s, now)) });
        } catch (error) {
          return problemFrom(error, options.logError);
        }
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/silences\/([\w-]{1,64})$/,
      endpoint: "silence",
      access: "api",
      handle: async (_request, params) => {
        const silence = await journal.getSilence(params[0]!);
        return silence ? json({ silence: silenceView(silence) }) : problemFrom(new OpsError({ code: "E_NOT_FOUND", message: `no silence ${params[0]}`, hint: "GET /api/v1/silences lists them", exitCode: ExitCode.usage }));
      },
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/silences$/,
      endpoint: "silence_add",
      access: "api",
      handle: async (request) => {
        try {
          const body = await readObjectBody(request);
          const createdBy = textField(body, "createdBy", 200);
          if (!createdBy) throw badBody("createdBy is missing: say who silences");
          const startsAt = timeField(body, "startsAt");
          const endsAt = timeField(body, "endsAt");
          if (endsAt === undefined) throw badBody("endsAt is missing: say until when");
          const silence = await healer.addSilence({ matchers: matchersField(body), ...(startsAt !== undefined ? { startsAt } : {}), endsAt, createdBy, comment: textField(body, "comment", 2000) ?? "" });
          return json({ silenceID: silence.id, silence: silenceView(silence) });
        } catch (error) {
          return problemFrom(error, options.logError);
        }
      },
    },
    {
      method: "DELETE",
      pattern: /^\/api\/v1\/silences\/([\w-]{1,64})$/,
      endpoint: "silence_expire",
      access: "api",
      handle: async (request, params) => {
        try {
          const by = new QueryParams(request.url).text("by", 200) ?? textField(await readObjectBody(request), "by", 200) ?? "api";
          return json({ silence: silenceView(await healer.expireSilence(params[0]!, by)) });
        } catch (error) {
          return problemFrom(error, options.logError);
        }
      },
    },
  ];
}
