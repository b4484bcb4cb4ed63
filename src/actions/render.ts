import { configError } from "../errors.ts";
import { proberOfTarget } from "../probe/index.ts";
import { isSecretReference, resolveSecretNow } from "../schema/index.ts";
import type { Escape, ShellRendering } from "../expr/index.ts";
import type { CompileContext, Renderer } from "./types.ts";

/** Compiles one templated string field; the escape says where the value lands. */
export async function compileText(text: string, field: string, escape: Escape, context: CompileContext): Promise<Renderer<string>> {
  const template = await context.compileTemplate(text, `${context.where}.${field}`, escape);
  if (template.constant) return () => text;
  return (variables) => template.render(variables, escape);
}

/**
 * Compiles a probe target's URL. A kind whose query string is code for the
 * server (promql+http: the query is PromQL) takes no {{ }} there: URL
 * encoding would keep a value a value of the URL, not of that language.
 */
export async function compileTargetUrl(text: string, field: string, context: CompileContext): Promise<Renderer<string>> {
  const prober = proberOfTarget(text);
  const question = text.indexOf("?");
  if (prober?.queryIsCode && question >= 0 && text.indexOf("{{", question) >= 0) {
    throw configError("E_TEMPLATE_UNSAFE", `${context.where}.${field}: a {{ }} in the query of a ${prober.kind} target would be read as code, not as a value`, `use the ${prober.kind}: form, whose query escapes values for its language`);
  }
  return compileText(text, field, "url", context);
}

/**
 * Compiles a shell command: what runs carries the values as shell variables
 * it references; `shown` (plans, progress, the journal, permission checks)
 * reads with the values quoted in place.
 */
export async function compileCommand(text: string, field: string, context: CompileContext): Promise<Renderer<ShellRendering>> {
  const template = await context.compileTemplate(text, `${context.where}.${field}`, "shell");
  return (variables) => template.renderShell(variables);
}

/** The escape for a request body: JSON-aware for JSON, percent-encoding for a form, as is otherwise. */
export function bodyEscape(body: string, headers: Record<string, string> | undefined): Escape {
  const type = Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === "content-type")?.[1]?.toLowerCase() ?? "";
  if (type.includes("x-www-form-urlencoded")) return "form";
  if (type.includes("json") || /^\s*[[{]/.test(body)) return "json";
  return "raw";
}

/** Compiles every string inside a record (headers, env, a JSON body), each with the same escape. */
export async function compileRecord<T extends Record<string, unknown>>(record: T, field: string, escape: Escape, context: CompileContext): Promise<Renderer<T>> {
  const entries = await Promise.all(
    Object.entries(record).map(async ([key, value]) => [key, await compileValue(value, `${field}.${key}`, escape, context)] as const),
  );
  return (variables) => Object.fromEntries(entries.map(([key, render]) => [key, render(variables)])) as T;
}

async function compileValue(value: unknown, field: string, escape: Escape, context: CompileContext): Promise<Renderer<unknown>> {
  if (typeof value === "string") return compileText(value, field, escape, context);
  if (Array.isArray(value)) {
    const items = await Promise.all(value.map((item, i) => compileValue(item, `${field}[${i}]`, escape, context)));
    return (variables) => items.map((render) => render(variables));
  }
  if (value !== null && typeof value === "object") return compileRecord(value as Record<string, unknown>, field, escape, context);
  return () => value;
}

/**
 * A step's `env:`: each value is a template, or a secret reference
 * (`env:NAME`, `file:/path`) written as it is in the config, resolved when
 * the step is rendered (so `opskit validate` needs no secrets) and registered
 * for masking. Only the config's own text can name a secret: a rendered
 * value (an alert label, a --var) is never read as a reference.
 */
export async function compileEnv(record: Record<string, string>, field: string, context: CompileContext): Promise<Renderer<Record<string, string>>> {
  const entries = await Promise.all(
    Object.entries(record).map(async ([name, value]): Promise<readonly [string, Renderer<string>]> => {
      const where = `${context.where}.${field}.${name}`;
      if (isSecretReference(value)) return [name, () => resolveSecretNow(value, where)];
      return [name, await compileText(value, `${field}.${name}`, "raw", context)];
    }),
  );
  return (variables) => Object.fromEntries(entries.map(([name, render]) => [name, render(variables)]));
}
