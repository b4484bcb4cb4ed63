/*
 * The life of a source that follows what it reads until it is stopped (files,
 * journald): its loop runs under the agent's signal and its own; stop() ends
 * the loop, waits for it, then saves where it got to, once however often it
 * is called.
 */
import type { SourceContext } from "../types.ts";

export interface Follower {
  /** Reads until the signal it was made with aborts. */
  follow(): Promise<void>;
  /** The final checkpoint (and any closing), after the loop has ended. */
  finish(): Promise<void>;
}

/** Starts `make`'s follower and hands back the stop the agent calls. */
export async function startFollowing(context: SourceContext, make: (signal: AbortSignal) => Promise<Follower>): Promise<{ stop(): Promise<void> }> {
  const stopping = new AbortController();
  const follower = await make(AbortSignal.any([stopping.signal, context.signal]));
  const running = follower.follow();
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        await running;
        await follower.finish();
      })();
      return stopped;
    },
  };
}
