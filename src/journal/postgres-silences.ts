import { BINARY, json, present, type StoreOn } from "./postgres-sql.ts";
import type { SilenceMatcher, SilenceRecord, SilenceStore } from "./types.ts";

const fields = `id, matchers, starts_at AS "startsAt", ends_at AS "endsAt", created_by AS "createdBy", comment, created_at AS "createdAt", updated_at AS "updatedAt", expired_by AS "expiredBy"`;

const toSilence = (row: Record<string, unknown>): SilenceRecord => present<SilenceRecord>({ ...row, matchers: row.matchers as SilenceMatcher[] });

/** Silences on PostgreSQL, as on SQLite (silence-types.ts). */
export const postgresSilenceStore: StoreOn<SilenceStore> = {
  async createSilence(sql, silence) {
    await sql.changed(
      `INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at, updated_at, expired_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [silence.id, json(silence.matchers), silence.startsAt, silence.endsAt, silence.createdBy, silence.comment, silence.createdAt, silence.updatedAt, silence.expiredBy],
    );
  },
  async getSilence(sql, id) {
    const [row] = await sql.rows(`SELECT ${fields} FROM silences WHERE id = $1`, [id]);
    return row ? toSilence(row) : undefined;
  },
  async listSilences(sql, options = {}) {
    const rows = await sql.rows(`SELECT ${fields} FROM silences WHERE ends_at > $1 ORDER BY created_at, id ${BINARY}`, [options.endsAfter ?? Number.MIN_SAFE_INTEGER]);
    return rows.map(toSilence);
  },
  async expireSilence(sql, id, at, by) {
    const changed = await sql.changed(`UPDATE silences SET starts_at = LEAST(starts_at, $2), ends_at = $2, updated_at = $2, expired_by = $3 WHERE id = $1 AND ends_at > $2`, [id, at, by]);
    return changed > 0;
  },
};
