import { ExitCode, usageError } from "../errors.ts";
import { paletteFor } from "../ui/index.ts";
import type { ParsedOptions } from "./options.ts";

const formats = ["text", "json", "sarif"] as const;
const thresholds = ["error", "warning", "never"] as const;

export interface AuditIo {
  /** Where the report goes when there is no -o (default: stdout). */
  write?: (text: string) => void;
  /** Scan root: paths are resolved and reported relative to it (default: the current directory). */
  cwd?: string;
  /** Whether to colour text output (default: when stdout is a terminal and NO_COLOR is unset). */
  color?: boolean;
}

/**
 * `opskit audit [PATH...]`: exit 0 when no finding at or above --fail-on
 * remains, 2 when one does, 64 for a bad path or option, 65 for a bad policy.
 */
export async function auditCommand(args: string[], options: ParsedOptions, io: AuditIo = {}): Promise<number> {
  const format = String(options.format ?? "text");
  if (!(formats as readonly string[]).includes(format)) throw usageError("E_USAGE_FORMAT", `--format "${format}" is not one of ${formats.join(", ")}`, "e.g. --format sarif -o audit.sarif");
  const failOn = String(options.failOn ?? "error");
  if (!(thresholds as readonly string[]).includes(failOn)) throw usageError("E_USAGE_FAIL_ON", `--fail-on "${failOn}" is not one of ${thresholds.join(", ")}`, "e.g. --fail-on warning");
  const audit = await import("../audit/index.ts");
  const policy = typeof options.policy === "string" ? await audit.loadPolicy(options.policy) : undefined;
  const report = await audit.runAudit({
    paths: args,
    root: io.cwd ?? process.cwd(),
    shellcheck: options.shellcheck !== false && options.noShellcheck !== true,
    ...(policy ? { policy } : {}),
  });
  const toFile = typeof options.output === "string";
  const palette = io.color === true ? paletteFor({}, { FORCE_COLOR: "1" }) : io.color === false || toFile || io.write ? paletteFor({}, {}) : paletteFor(process.stdout);
  const text = format === "json" ? audit.renderJson(report) : format === "sarif" ? audit.renderSarif(report) : audit.renderText(report, palette);
  if (toFile) {
    await Bun.write(options.output as string, text);
    console.error(`opskit audit: wrote ${options.output}: ${audit.summaryLine(report)}`);
  } else if (io.write) {
    io.write(text);
  } else {
    process.stdout.write(text);
  }
  return audit.failsAt(report, failOn as (typeof thresholds)[number]) ? ExitCode.check : ExitCode.ok;
}
