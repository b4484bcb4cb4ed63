// The journal's contract as tests: what every implementation (SQLite today,
// PostgreSQL later) must do, run against each of them as Gatus runs one store
// test over its memory and SQL stores. Only the interface is used here: what
// one implementation does beyond it is tested beside that implementation
// (sqlite-*.test.ts).
import { afterEach, beforeEach, describe } from "bun:test";
import { describeBrowseContract } from "./contract-browse.ts";
import { describeClusterContract } from "./contract-cluster.ts";
import { describeIncidentContract } from "./contract-incidents.ts";
import { describeRecordsContract } from "./contract-records.ts";
import { describeRunContract } from "./contract-runs.ts";
import { describeScheduleContract } from "./contract-schedules.ts";
import { describeSilenceContract } from "./contract-silences.ts";
import type { Journal } from "./types.ts";

/** The journal under test; each test gets a fresh, empty one. */
export type CurrentJournal = () => Journal;

/**
 * Registers the contract's tests for one implementation. `open` returns a new,
 * empty journal for each test; the suite closes it after the test.
 */
export function describeJournalContract(name: string, open: () => Promise<Journal>): void {
  describe(`journal contract: ${name}`, () => {
    let current: Journal | undefined;
    beforeEach(async () => {
      current = await open();
    });
    afterEach(async () => {
      // A test may have closed it already; closing again is harmless.
      await current?.close();
      current = undefined;
    });
    const journal: CurrentJournal = () => {
      if (!current) throw new Error("the journal contract's journal is used outside a test");
      return current;
    };
    describeRunContract(journal);
    describeIncidentContract(journal);
    describeRecordsContract(journal);
    describeClusterContract(journal);
    describeScheduleContract(journal);
    describeBrowseContract(journal);
    describeSilenceContract(journal);
  });
}
