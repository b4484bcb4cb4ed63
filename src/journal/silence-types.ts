// Silences, as Alertmanager's users know them: label matchers and a time
// window during which a matching alert's incident opens as usual but no
// remediation runs. Kept in the journal, so they survive restarts and every
// replica sharing the journal holds the same alerts.

/** One matcher in Alertmanager's API v2 shape: `name=value` is { isRegex: false, isEqual: true }, `name!~re` { isRegex: true, isEqual: false }. */
export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface SilenceRecord {
  /** A random UUID, as Alertmanager's. */
  id: string;
  matchers: SilenceMatcher[];
  /** The window, epoch ms: active while startsAt <= now < endsAt; pending before, expired after. */
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  createdAt: number;
  /** When it was last changed (created, or expired by hand). */
  updatedAt: number;
  /** Who expired it before its end, when someone did. */
  expiredBy?: string;
}

export interface SilenceStore {
  /** Stores a new silence; its id is new (a UUID). */
  createSilence(silence: SilenceRecord): Promise<void>;
  getSilence(id: string): Promise<SilenceRecord | undefined>;
  /**
   * Silences in creation order (oldest first); `endsAfter` (epoch ms) keeps
   * those that end after it: the active and pending ones at that time.
   */
  listSilences(options?: { endsAfter?: number }): Promise<SilenceRecord[]>;
  /**
   * Ends a silence at `at` unless it ended already: a pending one gets
   * startsAt = endsAt = at. Compare and set: resolves whether this call
   * expired it (of two callers, one does).
   */
  expireSilence(id: string, at: number, by: string): Promise<boolean>;
}
