import { resolve } from "node:path";
import { ExitCode } from "../errors.ts";
import { paletteFor } from "../ui/index.ts";
import type { auditSpec } from "./audit-spec.ts";
import type { OptionsOf } from "./options.ts";

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
 * remains (with --baseline: no new one), 2 when one does, 64 for a bad path,
 * option or rule id, 65 for a bad policy, .opskit-audit.yaml or baseline.
 */
export async function auditCommand(args: string[], options: OptionsOf<typeof auditSpec>, io: AuditIo = {}): Promise<number> {
  const { format, failOn, output } = options;
  const audit = await import("../audit/index.ts");
  const policy = options.policy !== undefined ? await audit.loadPolicy(options.policy) : undefined;
  const root = io.cwd ?? process.cwd();
  const exclude = options.exclude && options.exclude.length > 0 ? audit.excludedByFlag(options.exclude, audit.knownRules()) : undefined;
  const baseline = options.baseline !== undefined ? await audit.readBaseline(resolve(root, options.baseline)) : undefined;
  const report = await audit.runAudit({
    paths: args,
    root,
    shellcheck: !options.noShellcheck,
    ...(policy ? { policy } : {}),
    ...(exclude ? { exclude } : {}),
    ...(baseline ? { baseline } : {}),
    ...(options.noIgnore ? { noIgnore: true } : {}),
  });
  const toFile = output !== undefined;
  const palette = io.color === true ? paletteFor({}, { FORCE_COLOR: "1" }) : io.color === false || toFile || io.write ? paletteFor({}, {}) : paletteFor(process.stdout);
  const text = format === "json" ? audit.renderJson(report) : format === "sarif" ? audit.renderSarif(report) : audit.renderText(report, palette);
  if (output !== undefined) {
    await Bun.write(output, text);
    console.error(`opskit audit: wrote ${output}: ${audit.summaryLine(report)}`);
  } else if (io.write) {
    io.write(text);
  } else {
    process.stdout.write(text);
  }
  return audit.failsAt(report, failOn) ? ExitCode.check : ExitCode.ok;
}
