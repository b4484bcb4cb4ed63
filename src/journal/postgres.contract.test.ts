// The journal contract (contract.ts) against PostgreSQL: a database of its own for every test, on the
// machine's server (test/harness/postgres.ts; a server that is not there fails, it is not skipped).
import { afterAll } from "bun:test";
import { createTestDatabase, type TestDatabase } from "../../test/harness/postgres.ts";
import { describeJournalContract } from "./contract.ts";
import { openPostgresJournal } from "./postgres.ts";

const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const database of databases) await database.drop();
});

describeJournalContract("PostgreSQL", async () => {
  const database = await createTestDatabase();
  databases.push(database);
  return openPostgresJournal(database.url);
});
