/** `server:` defaults, applied once over the merged config (kept apart from the schema so using them does not load zod). */
export const serverDefaults = {
  listen: "127.0.0.1:9797",
  maxBodyBytes: 1024 * 1024,
  maxConcurrentRemediations: 4,
  checkConcurrency: 16,
  drainTimeout: "30s",
  staleAfter: "24h",
  heartbeat: "1s",
  leaseTtl: "5s",
  fsync: false,
} as const;
