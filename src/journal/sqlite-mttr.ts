import type { Database } from "bun:sqlite";
import { computeWide, MttrCollector, phaseOptions, REMEDIATED, STATUS } from "./mttr-stats.ts";
import { startSecondReader } from "./sqlite-mttr-thread.ts";
import type { Synchronous } from "./sqlite-async.ts";
import type { AnalyticsStore, MttrQuery } from "./types.ts";

/**
 * Every column MTTR reads, after (service, started_at): reading one service's
 * incidents in a range is one range of this index, and no table row is
 * visited. It serves what an index on (service, started_at) would.
 */
export const analyticsIndex =
  "CREATE INDEX IF NOT EXISTS incidents_mttr ON incidents (service, started_at, detected_at, acknowledged_at, remediation_started_at, remediated_at, resolved_at, status, escalated, attempts)";

/**
 * What each incident hands to the collector, in PhaseCollector.add's order;
 * the status and whether a rule remediated the incident as one number, so no
 * string is made per row (each argument of a function SQLite calls costs about
 * 10 ms a million rows).
 */
const INCIDENT_COLUMNS = `started_at, detected_at, acknowledged_at, remediation_started_at,
  CASE status WHEN 'resolved' THEN ${STATUS.resolved} WHEN 'open' THEN ${STATUS.open} ELSE ${STATUS.other} END + (remediated_at IS NOT NULL) * ${REMEDIATED},
  resolved_at, escalated, attempts`;

type Params = Record<string, string | number | null>;

/**
 * Journals of this many incidents and more are read by two threads (see
 * sqlite-mttr-thread.ts): on 2 cores, a million incidents by service were
 * read in 0.40 s instead of 0.65 s; below this the thread's start (a few ms)
 * is not worth it.
 */
const SECOND_THREAD_FROM = 100_000;
let stores = 0;

/** Incidents that started in the query's range (epoch ms, until excluded). */
function range(query: MttrQuery): { where: string; params: Params } {
  const where: string[] = [];
  const params: Params = {};
  if (query.since !== undefined) {
    where.push("started_at >= $since");
    params.since = query.since;
  }
  if (query.until !== undefined) {
    where.push("started_at < $until");
    params.until = query.until;
  }
  if (where.length === 0) where.push("started_at IS NOT NULL");
  return { where: where.join(" AND "), params };
}

/** The grouping as SQL: a fixed set of column names, never text from the caller; a label's name is bound. */
function groupExpression(groupBy: NonNullable<MttrQuery["groupBy"]>, params: Params): string {
  if ("column" in groupBy) return ({ service: "service", alertname: "alertname", rule: "rule", severity: "severity" } as const)[groupBy.column];
  params.labelPath = `$."${groupBy.label.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  return "json_extract(labels, $labelPath)";
}

/**
 * MTTR over SQLite: the incidents in the range are read once, each handed
 * to an MttrCollector by a function SQLite calls per row (cheaper than
 * making a row object for each), which computes every statistic in one pass
 * over typed arrays. SQLite's percentile_cont per group and phase, which
 * this replaces, sorted each group's durations once per percentile: 45 s
 * for a year of a million incidents by service, where the reading alone is
 * under a second.
 *
 * Ungrouped and by service, the incidents are read service by service from
 * incidents_mttr (no string is made per row); by another column or a
 * label, the group's value comes with each row.
 */
export function sqliteAnalyticsStore(db: Database, options: { secondThreadFrom?: number } = { secondThreadFrom: SECOND_THREAD_FROM }): Synchronous<AnalyticsStore> {
  const { secondThreadFrom } = options;
  // Names of this store's own: a second store on the connection must not take over the first's functions.
  const suffix = ++stores;
  const INCIDENT = `opskit_mttr_incident_${suffix}(${INCIDENT_COLUMNS})`;
  const GROUPED = `opskit_mttr_grouped_${suffix}`;
  let collector: MttrCollector | undefined;
  let group = 0;
  db.function(`opskit_mttr_incident_${suffix}`, (started, detected, acknowledged, remediationStarted, flags, resolved, escalated, attempts) => {
    collector!.phases.add(group, started, detected, acknowledged, remediationStarted, flags, resolved, escalated, attempts);
  });
  db.function(GROUPED, (key, started, detected, acknowledged, remediationStarted, flags, resolved, escalated, attempts) => {
    collector!.phases.add(collector!.groupOf(key), started, detected, acknowledged, remediationStarted, flags, resolved, escalated, attempts);
  });
  const firstService = db.prepare<{ service: string }, []>("SELECT service FROM incidents INDEXED BY incidents_mttr WHERE service IS NOT NULL ORDER BY service LIMIT 1");
  const nextService = db.prepare<{ service: string }, Params>("SELECT service FROM incidents INDEXED BY incidents_mttr WHERE service > $after ORDER BY service LIMIT 1");
  // Two subqueries, each one seek at an end of the rowid: MAX and MIN in one SELECT read the whole table (65-100 ms for a million incidents).
  const rowsIn = db.prepare<{ n: number }, []>("SELECT COALESCE((SELECT MAX(id) FROM incidents) - (SELECT MIN(id) FROM incidents) + 1, 0) AS n");

  /** Every service that has incidents, in the index's order: one seek each. */
  function services(): (string | null)[] {
    const found: (string | null)[] = [null];
    for (let row = firstService.get(); row; row = nextService.get({ after: row.service })) found.push(row.service);
    return found;
  }

  function readByService(query: MttrQuery, threads: boolean, expected: number): MttrCollector {
    const grouped = query.groupBy !== undefined;
    const list = services();
    // Grouped, group i is list[i]; ungrouped, every service is group 0.
    const into = new MttrCollector(query, { keys: grouped ? list : [null], expected });
    collector = into;
    const { where, params } = range(query);
    const sql = {
      named: `SELECT count(${INCIDENT}) FROM incidents INDEXED BY incidents_mttr WHERE service = $service AND ${where}`,
      none: `SELECT count(${INCIDENT}) FROM incidents INDEXED BY incidents_mttr WHERE service IS NULL AND ${where}`,
    };
    const [named, none] = [db.prepare<unknown, Params>(sql.named), db.prepare<unknown, Params>(sql.none)];
    const second = threads ? startSecondReader(db.filename, list, { ...sql, collect: `opskit_mttr_incident_${suffix}` }, params, { phases: phaseOptions(query, true, expected), grouped, work: { caller: into.wideWork().here, thread: into.wideWork().there } }) : undefined;
    try {
      let next = 0;
      for (let index = second ? second.take() : next++; index < list.length; index = second ? second.take() : next++) {
        const service = list[index]!;
        group = grouped ? index : 0;
        into.phases.begin(group);
        if (service === null) none.get(params);
        else named.get({ ...params, service });
      }
      if (!second) return into;
      // By service, each group was read by one thread: each computes its groups' statistics while the other may still read.
      into.finishReading({ statistics: grouped });
      const read = second.collected();
      // The thread failed (a file it may not open, say): read everything here instead.
      if (!read) return readByService(query, false, expected);
      into.addPart(read);
      // What needs every incident (overall, the weekly trend), shared between the threads.
      second.share(into.allParts()[0]!);
      into.acceptWide(computeWide(into.allParts(), into.wideWork().here));
      const theirs = second.finish();
      // The thread failed: the durations its share needed went with it, so everything is read again here.
      if (!theirs) return readByService(query, false, expected);
      into.acceptWide(theirs);
      return into;
    } finally {
      // Whatever went wrong here, the thread does not wait for a share that will not come.
      second?.close();
    }
  }

  function readWithGroup(query: MttrQuery, rows: number): MttrCollector {
    const { where, params } = range(query);
    const key = groupExpression(query.groupBy!, params);
    // Through the start-time index for a narrow range; for most of the table, reading the table itself is cheaper than a lookup per row.
    const count = db.query<{ n: number }, Params>(`SELECT count(*) AS n FROM incidents INDEXED BY incidents_started WHERE ${where}`).get(range(query).params)!.n;
    const scan = count > rows / 8 ? where.replaceAll("started_at", "+started_at") : where;
    const into = new MttrCollector(query, { expected: count });
    collector = into;
    db.query<unknown, Params>(`SELECT count(${GROUPED}(${key}, ${INCIDENT_COLUMNS})) FROM incidents WHERE ${scan}`).get(params);
    return into;
  }

  return {
    mttr(query) {
      const byService = query.groupBy === undefined || ("column" in query.groupBy && query.groupBy.column === "service");
      try {
        const rows = rowsIn.get()!.n;
        const threads = secondThreadFrom !== undefined && db.filename !== ":memory:" && db.filename !== "" && rows >= secondThreadFrom;
        const read = byService ? readByService(query, threads, rows) : readWithGroup(query, rows);
        return read.result();
      } finally {
        collector = undefined;
      }
    },
  };
}
