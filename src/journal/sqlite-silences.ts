import type { Database } from "bun:sqlite";
import type { Synchronous } from "./sqlite-async.ts";
import type { SilenceMatcher, SilenceRecord, SilenceStore } from "./types.ts";

const silenceSchema = `
CREATE TABLE IF NOT EXISTS silences (
  id TEXT PRIMARY KEY,
  matchers TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  comment TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expired_by TEXT
);
CREATE INDEX IF NOT EXISTS silences_ends ON silences (ends_at);
`;

/** Creates the silences table; a journal written before it gains it in place. */
export function migrateSilences(db: Database): void {
  db.exec(silenceSchema);
}

/** A row as the query names its columns: the record, with matchers as JSON text and no expiredBy as null. */
type SilenceRow = Omit<SilenceRecord, "matchers" | "expiredBy"> & { matchers: string; expiredBy: string | null };

const fields = "id, matchers, starts_at AS startsAt, ends_at AS endsAt, created_by AS createdBy, comment, created_at AS createdAt, updated_at AS updatedAt, expired_by AS expiredBy";

function toSilence(row: SilenceRow): SilenceRecord {
  const { matchers, expiredBy, ...rest } = row;
  return { ...rest, matchers: JSON.parse(matchers) as SilenceMatcher[], ...(expiredBy !== null ? { expiredBy } : {}) };
}

/** Silences on SQLite (silence-types.ts says what each promises). */
export function sqliteSilenceStore(db: Database): Synchronous<SilenceStore> {
  const insert = db.prepare(`INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at, updated_at, expired_by)
    VALUES ($id, $matchers, $startsAt, $endsAt, $createdBy, $comment, $createdAt, $updatedAt, $expiredBy)`);
  const selectOne = db.prepare<SilenceRow, { id: string }>(`SELECT ${fields} FROM silences WHERE id = $id`);
  const selectAll = db.prepare<SilenceRow, { endsAfter: number }>(`SELECT ${fields} FROM silences WHERE ends_at > $endsAfter ORDER BY created_at, id`);
  // A pending silence (not started yet) ends before it starts: both become `at`.
  const expire = db.prepare(`UPDATE silences SET starts_at = MIN(starts_at, $at), ends_at = $at, updated_at = $at, expired_by = $by WHERE id = $id AND ends_at > $at`);
  return {
    createSilence(silence) {
      insert.run({ ...silence, matchers: JSON.stringify(silence.matchers), expiredBy: silence.expiredBy ?? null });
    },
    getSilence(id) {
      const row = selectOne.get({ id });
      return row ? toSilence(row) : undefined;
    },
    listSilences(options = {}) {
      return selectAll.all({ endsAfter: options.endsAfter ?? Number.MIN_SAFE_INTEGER }).map(toSilence);
    },
    expireSilence(id, at, by) {
      return expire.run({ id, at, by }).changes > 0;
    },
  };
}
