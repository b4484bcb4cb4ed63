// `opskit incidents list` and `show` without a server: the journal read
// directly, through the server's own incident routes (the same query
// parameters, pages and answers), so the output is what a server prints.
// --journal reads it at once; otherwise a server that does not answer hands
// over to the journal the config names, with a notice on stderr.
import { OpsError } from "../errors.ts";
import type { Journal } from "../journal/index.ts";
import { displayJournalLocation, openJournal } from "../journal/index.ts";
import { answerOf, callServer, serverUnreachable } from "./incidents.ts";
import type { ClientOptions } from "./incidents-spec.ts";

/** Reads one API path (GET) and gives its answer; close() lets go of a journal it opened. */
export interface IncidentReader {
  get(path: string): Promise<unknown>;
  close(): Promise<void>;
}

type ReaderOptions = Partial<Pick<ClientOptions, "server" | "journal" | "config" | "env">>;

/**
 * The journal opened for reading only: a SQLite file as it is (a running
 * server keeps writing it; WAL lets both go on), a PostgreSQL journal as
 * every command opens it.
 */
async function journalReader(location: string): Promise<IncidentReader> {
  const journal: Journal = await openJournal(location, { readOnly: true, poolSize: 2 });
  const { incidentReadRoutes } = await import("../server/index.ts");
  // Nothing runs here: no run is live, and pause is what the journal says.
  const routes = incidentReadRoutes({ journal, healer: { isPaused: async () => (await journal.getSetting("paused")) === "true" }, hub: { isLive: () => false } });
  return {
    async get(path) {
      const url = new URL(path, "http://journal.invalid");
      for (const route of routes) {
        const match = route.method === "GET" ? route.pattern.exec(url.pathname) : null;
        if (!match) continue;
        const context = { peer: () => undefined, keepOpen: () => undefined };
        return answerOf(await route.handle(new Request(url.href), match.slice(1), context));
      }
      throw new Error(`no incident route answers GET ${url.pathname}`);
    },
    close: () => journal.close(),
  };
}

/** The config's journal: when -c names a config, or the current directory holds one; undefined when there is none. */
async function configJournal(options: ReaderOptions): Promise<string | undefined> {
  // Loaded only here, once the server did not answer: a list the server answers needs no config.
  const [{ loadConfigFromOptions }, { configuredJournal }] = await Promise.all([import("./config-options.ts"), import("./journal-options.ts")]);
  return configuredJournal(await loadConfigFromOptions(options).catch(() => undefined));
}

/**
 * Where list and show read: --journal, the journal itself; else the server,
 * and when it does not answer (refused, unreachable, timed out) the journal
 * the config names, said on stderr; with neither, the connection error with
 * a hint naming --journal.
 */
export async function incidentReader(options: ReaderOptions, notice: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<IncidentReader> {
  if (options.journal) return journalReader(options.journal);
  let fallback: IncidentReader | undefined;
  return {
    async get(path) {
      if (fallback) return fallback.get(path);
      try {
        return await callServer(options, "GET", path);
      } catch (error) {
        if (!serverUnreachable(error)) throw error;
        const location = await configJournal(options);
        if (location === undefined) {
          throw new OpsError({ code: error.code, message: error.message, hint: "is opskit serve running? pass --server URL or set OPSKIT_SERVER, or read the journal without a server: --journal PATH|postgres://…", exitCode: error.exitCode });
        }
        notice(`opskit: ${error.message}; reading the journal the config names (${displayJournalLocation(location)}) instead`);
        fallback = await journalReader(location);
        return fallback.get(path);
      }
    },
    close: async () => fallback?.close(),
  };
}
