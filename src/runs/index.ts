// The run service: prepares a run (config → targets → permissions → compiled
// workflow) and executes it with its journal record, shadowing, remotes and
// sinks. Every caller comes here: run, exec, runs resume, wrap, shadow,
// remediation and escalation; they keep only their options and their output.
export { adHocWorkflow, compileConfigWorkflow, prepareAdHoc, prepareCompiled, prepareExec, prepareWorkflow, type AdHocRequest, type CompiledRequest, type ExecRequest, type WorkflowRequest } from "./prepare.ts";
export { openRunRemotes, startJournaledRun } from "./execute.ts";
export { prepareResume, type Resumption } from "./resume.ts";
export type { ApplyShadow, JournaledRun, JournaledRunOptions, PreparedRun, RunNote, RunOrigin, RunShadowing } from "./types.ts";
