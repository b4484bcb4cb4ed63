// The execution engine: bounded pools and (later) plans, strategies and policy.
// Everything concurrent in opskit goes through runPool.
export { runPool, type PoolOptions, type PoolOutcome } from "./pool.ts";
