import { LineCounter, parseDocument, isNode, type Document } from "yaml";
import type { z } from "zod";
import { configError, OpsError } from "../errors.ts";

export interface Located<T> {
  value: T;
  /** "file:line:col" of the value at a path, for later errors. */
  where(path: readonly (string | number)[]): string;
}

/** Reads and validates a YAML file; errors point at file:line:col. */
export async function loadYamlFile<S extends z.ZodType>(file: string, schema: S): Promise<Located<z.infer<S>>> {
  let text: string;
  try {
    text = await Bun.file(file).text();
  } catch (error) {
    throw configError("E_CONFIG_READ", `cannot read ${file}: ${(error as Error).message}`, "check the path and its permissions");
  }
  return parseYaml(text, file, schema);
}

export function parseYaml<S extends z.ZodType>(text: string, file: string, schema: S): Located<z.infer<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  const firstError = doc.errors[0];
  if (firstError) {
    throw configError("E_CONFIG_SYNTAX", `${position(firstError.pos[0])}: ${firstError.message.split("\n")[0]}`, "fix the YAML syntax (indentation, quoting, a missing colon)");
  }
  const where = (path: readonly (string | number)[]) => position(offsetOf(doc, path));
  const parsed = schema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    const field = path.length > 0 ? path.join(".") : "(top level)";
    throw new OpsError({
      code: "E_CONFIG_FIELD",
      message: `${where(path)}: ${field}: ${issue.message}`,
      hint: hintFor(issue),
      exitCode: 65,
    });
  }
  return { value: parsed.data, where };
}

/** Offset of the deepest node that exists along the path. */
function offsetOf(doc: Document, path: readonly (string | number)[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return 0;
}

function hintFor(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "unrecognized_keys":
      return `remove or rename ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    case "invalid_type":
      return `expected ${issue.expected} here`;
    case "invalid_value":
      return `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return "see the documented keys for this file";
  }
}
