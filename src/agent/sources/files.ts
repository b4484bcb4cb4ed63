/*
 * The `files` source: log files named by absolute paths and globs, tailed
 * across rotation (rename and copytruncate) and truncation, with multi-line
 * records, each record an event of kind "log" (fields: file, offset). The
 * offset of the last record the agent took is persisted in the source's
 * stateDir, so a restart neither repeats nor skips.
 */
import type { z } from "zod";
import type { SchemaKit } from "../../schema/index.ts";
import { parseDuration } from "../../time/index.ts";
import type { AgentSource } from "../types.ts";
import { FileTail, type FileTailOptions } from "./file-tail.ts";
import { startFollowing } from "./following.ts";

const DEFAULT_MAX_BYTES = 64 * 1024;

const schema = ({ z, duration }: SchemaKit) =>
  z
    .object({
      paths: z
        .array(z.string().regex(/^\//, "an absolute path, e.g. /var/log/app/*.log"))
        .min(1)
        .describe("absolute paths of log files; * and ? match within one path component (/var/log/app/*.log, /var/log/*/error.log); files that appear later are picked up"),
      exclude: z.array(z.string().min(1)).default([]).describe("globs of files not to read: a pattern without / is held to the file's name (*.1), one with / to its whole path; compressed files (.gz .bz2 .xz .zst .lz4 .zip) are never read"),
      multiline: z
        .object({
          start: z
            .string()
            .min(1)
            .superRefine((text, check) => {
              const problem = regexProblem(text);
              if (problem) check.addIssue({ code: "custom", message: `not a JavaScript regular expression (${problem}); e.g. '^\\d{4}-\\d{2}-\\d{2}'` });
            })
            .describe("a line matching this regular expression starts a record; any other line continues the record before it (stack traces)"),
          timeout: duration.default("1s").describe("a record that no new line has continued for this long is complete"),
        })
        .strict()
        .optional()
        .describe("records of several lines"),
      maxBytes: z.number().int().min(256).max(16 * 1024 * 1024).default(DEFAULT_MAX_BYTES).describe("bound on one record (a line or a multi-line record), in bytes: what passes it is dropped and the event has fields.truncated"),
      startAt: z.enum(["beginning", "end"]).default("beginning").describe("where files found on the very first start (no saved offsets) are read from; files that appear later, and every file after a restart, are read from their saved offset or their start"),
      pollInterval: duration.default("250ms").describe("how often files are looked at when inotify says nothing (it is the only way on filesystems without inotify)"),
    })
    .strict();

type FilesSpec = z.output<ReturnType<typeof schema>>;

function regexProblem(text: string): string | undefined {
  try {
    new RegExp(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function tailOptions(spec: FilesSpec): FileTailOptions {
  return {
    paths: spec.paths,
    exclude: spec.exclude,
    records: { maxBytes: spec.maxBytes, start: spec.multiline ? new RegExp(spec.multiline.start) : undefined },
    multilineIdleMs: spec.multiline ? parseDuration(spec.multiline.timeout, "multiline.timeout") : 0,
    startAt: spec.startAt,
    pollMs: parseDuration(spec.pollInterval, "pollInterval"),
  };
}

export const filesSource: AgentSource<FilesSpec> = {
  kind: "files",
  schema,
  async start(spec, context) {
    return startFollowing(context, async (signal) => {
      const tail = new FileTail(tailOptions(spec), context, signal);
      await tail.init();
      await tail.checkpointStart();
      return {
        follow: () => tail.follow(),
        finish: async () => {
          await tail.persist();
          await tail.close();
        },
      };
    });
  },
  /** From the saved offsets to the end of every file, pending multi-line records included; the offsets are not moved (--once tests rules, it does not consume). */
  async once(spec, context) {
    const tail = new FileTail(tailOptions(spec), context, context.signal);
    try {
      await tail.init();
      await tail.drain();
    } finally {
      await tail.close();
    }
  },
};
