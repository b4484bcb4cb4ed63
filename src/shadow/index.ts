// Shadow runs: prove that a replacement behaves like the legacy script it
// replaces, by running both on the same input, comparing normalized outputs
// and recording every comparison; a workflow that disagrees too often falls
// back to its legacy script until someone resets it.
export { canonicalJson, compareOutcomes, compileNormalizers, normalizeOutput, parseAspects, parseNormalizeOption, shadowAspects } from "./compare.ts";
export type { ComparisonOutcome, Normalizer, SideOutcome } from "./compare.ts";
export { unifiedDiff, type UnifiedDiffOptions } from "../ui/diff.ts";
export { agreementRate, fallbackReason, type FallbackThresholds } from "./fallback.ts";
export { buildShadowReport, describeSide, renderMismatch, renderShadowReport, type ShadowReportEntry } from "./report.ts";
export { outcomeFromResult, runLocalSide, type LocalSideOptions } from "./side.ts";
export { inShare, parsePercent } from "./share.ts";
export { runTrials, type TrialComparison, type TrialOptions } from "./trial.ts";
export { comparedStepIndex, shadowRun, type ShadowedRun, type ShadowNote, type ShadowRunOptions } from "./workflow.ts";
