// The thread `opskit agent` loads and checks its config in (an entry point
// of the build, like the probe's worker): the YAML library, zod and every
// schema built stay in this thread's heap and go when it ends. It answers
// one message, the config's LoadOptions, with the agent's plan or the error.
import { isOpsError } from "../errors.ts";
import type { ConfigThreadAnswer } from "./agent.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent) => {
  let answer: ConfigThreadAnswer;
  try {
    const { AGENT_JIT_POLICY, planOf, setJitPolicy } = await import("../agent/index.ts");
    setJitPolicy(AGENT_JIT_POLICY);
    const [{ compileAgentConfig }, { loadAgentConfig }] = await Promise.all([import("./agent.ts"), import("../config/index.ts")]);
    const loaded = await loadAgentConfig(event.data);
    answer = { plan: await planOf(await compileAgentConfig(loaded), loaded) };
  } catch (error) {
    answer = isOpsError(error)
      ? { error: { code: error.code, message: error.message, hint: error.hint, exitCode: error.exitCode } }
      : { failure: { message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined } };
  }
  postMessage(answer);
};
