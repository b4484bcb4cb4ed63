// --journal's option table, shared by every command that reads or writes the
// journal; a table only (the exec fast path loads it), the resolver is in
// journal-options.ts.
import { defineOptions } from "./options.ts";

const where = "a file, or postgres://USER@HOST:PORT/DB shared by several servers (its password in PGPASSWORD or ~/.pgpass)";
const precedence = "default $OPSKIT_JOURNAL, else journal: in the config, else ~/.local/state/opskit/journal.db";

/** --journal, one description for every command that reads or writes the journal. */
export const journalOption = defineOptions({
  journal: { kind: "string", value: "path|url", description: `the journal: ${where} (${precedence})` },
});

/** --journal for the commands that also keep the API token beside a journal file. */
export const serverJournalOption = defineOptions({
  journal: {
    kind: "string",
    value: "path|url",
    description: `the journal: ${where} (${precedence}); without server.token, the API token opskit serve generates is kept beside the journal file (a PostgreSQL journal, shared by several servers, needs server.token or OPSKIT_TOKEN instead)`,
  },
});
