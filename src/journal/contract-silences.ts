import { describe, expect, test } from "bun:test";
import type { CurrentJournal } from "./contract.ts";
import type { SilenceRecord } from "./types.ts";

const t0 = 1764072000000;
const hour = 3_600_000;

function silence(id: string, overrides: Partial<SilenceRecord> = {}): SilenceRecord {
  return {
    id,
    matchers: [
      { name: "alertname", value: "ApiDown", isRegex: false, isEqual: true },
      { name: "service", value: "api.*", isRegex: true, isEqual: true },
    ],
    startsAt: t0,
    endsAt: t0 + 2 * hour,
    createdBy: "alice",
    comment: "migration",
    createdAt: t0,
    updatedAt: t0,
    ...overrides,
  };
}

/** Silences: kept as given, listed by when they end, expired once. */
export function describeSilenceContract(journal: CurrentJournal): void {
  describe("silences", () => {
    test("a silence reads back as given, matchers in order and values as written (quotes, commas, NUL-free unicode, empty)", async () => {
      const j = journal();
      const odd = silence("b5c7d2e0-0000-4000-8000-000000000001", {
        matchers: [
          { name: "instance", value: 'a,"b"\\c ü', isRegex: false, isEqual: true },
          { name: "team", value: "", isRegex: false, isEqual: false },
          { name: "job", value: "x|y", isRegex: true, isEqual: false },
        ],
        comment: "",
      });
      await j.createSilence(odd);
      expect(await j.getSilence(odd.id)).toEqual(odd);
      expect(await j.getSilence("nothing")).toBeUndefined();
    });

    test("listed in creation order; endsAfter keeps the active and pending ones", async () => {
      const j = journal();
      await j.createSilence(silence("s2", { createdAt: t0 + 2, startsAt: t0 + hour, endsAt: t0 + 3 * hour }));
      await j.createSilence(silence("s1", { createdAt: t0 + 1, endsAt: t0 + hour }));
      await j.createSilence(silence("s3", { createdAt: t0 + 3, startsAt: t0 - 2 * hour, endsAt: t0 - hour }));
      expect((await j.listSilences()).map((s) => s.id)).toEqual(["s1", "s2", "s3"]);
      expect((await j.listSilences({ endsAfter: t0 })).map((s) => s.id)).toEqual(["s1", "s2"]);
      expect((await j.listSilences({ endsAfter: t0 + hour })).map((s) => s.id)).toEqual(["s2"]);
    });

    test("expiring ends it now, once: a second expiry and one of an ended silence change nothing", async () => {
      const j = journal();
      await j.createSilence(silence("s1"));
      expect(await j.expireSilence("s1", t0 + 10, "bob")).toBe(true);
      expect(await j.expireSilence("s1", t0 + 20, "carol")).toBe(false);
      expect(await j.expireSilence("missing", t0 + 20, "carol")).toBe(false);
      expect(await j.getSilence("s1")).toEqual({ ...silence("s1"), endsAt: t0 + 10, updatedAt: t0 + 10, expiredBy: "bob" });
      expect(await j.listSilences({ endsAfter: t0 + 10 })).toEqual([]);
    });

    test("a pending silence expired before its start starts and ends at the expiry", async () => {
      const j = journal();
      await j.createSilence(silence("p", { startsAt: t0 + hour, endsAt: t0 + 2 * hour }));
      expect(await j.expireSilence("p", t0, "bob")).toBe(true);
      expect(await j.getSilence("p")).toMatchObject({ startsAt: t0, endsAt: t0, expiredBy: "bob" });
    });

    test("of callers racing to expire one silence, exactly one does", async () => {
      const j = journal();
      await j.createSilence(silence("s1"));
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => j.expireSilence("s1", t0 + 100, `person-${i}`)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    test("a silence created in a rolled-back transaction is not kept", async () => {
      const j = journal();
      await expect(
        j.transaction(async (tx) => {
          await tx.createSilence(silence("s1"));
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect(await j.listSilences()).toEqual([]);
    });
  });
}
