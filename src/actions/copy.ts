import type { SchemaKit } from "../schema/index.ts";
import { configError } from "../errors.ts";
import { onHost } from "./errors.ts";
import { previewCopy } from "./copy-preview.ts";
import { compileText } from "./render.ts";
import type { Action, SpecOf } from "./types.ts";

const schema = ({ z }: SchemaKit) =>
  z
    .object({
      src: z.string().min(1).describe("local file, relative to the config file"),
      dest: z.string().min(1).describe("remote path"),
      mode: z.union([z.string().regex(/^0?[0-7]{3,4}$/), z.number().int()]).default("0644"),
    })
    .strict();
type CopySpec = SpecOf<typeof schema>;
interface CopyRendered {
  src: string;
  dest: string;
  mode: number;
}

/** Uploads a local file over SFTP; unchanged (and not rewritten) when the remote copy has the same SHA-256. */
export const copyAction: Action<CopySpec, CopyRendered> = {
  kind: "copy",
  onHost: true,
  schema,
  async compile(spec, context) {
    const src = spec.src.startsWith("/") ? spec.src : `${context.baseDir}/${spec.src}`;
    if (!(await Bun.file(src).exists())) throw configError("E_COPY_SRC", `${context.where}.copy.src: ${src} not found`, "paths are relative to the config file's directory");
    const mode = typeof spec.mode === "number" ? spec.mode : parseInt(spec.mode, 8);
    const dest = await compileText(spec.dest, "copy.dest", "raw", context);
    return (variables) => ({ src, dest: dest(variables), mode });
  },
  describe: (rendered) => `copy: ${rendered.src} -> ${rendered.dest} (mode ${rendered.mode.toString(8).padStart(4, "0")})`,
  // What it writes is a file, not a command or a URL.
  subjects: () => [],
  preview: async (rendered, context) => previewCopy(new Uint8Array(await Bun.file(rendered.src).arrayBuffer()), rendered.dest, rendered.mode, context),
  run: (rendered, context) =>
    onHost(context, async (host) => {
      const startedAt = performance.now();
      const content = new Uint8Array(await Bun.file(rendered.src).arrayBuffer());
      const outcome = await host.upload(content, rendered.dest, rendered.mode, { timeoutMs: context.timeoutMs, signal: context.signal });
      return {
        ok: true,
        changed: outcome.changed,
        exitCode: 0,
        stdout: "",
        stderr: "",
        durationMs: performance.now() - startedAt,
        data: { sha256: outcome.sha256, bytes: content.length, dest: rendered.dest },
      };
    }),
};
