// MTTR: time to detect, isolate, recover and resolve, computed in SQL from
// the incident milestones the journal keeps, rendered as a table, markdown,
// JSON or one HTML page; and the history it is computed over, imported from
// other tools' exports. Incidents themselves live in heal/ and journal/.
export { computeMttr, planMttr, parseDate, changesBetween, type MttrOptions } from "./mttr.ts";
export { renderTable, renderMarkdown, phaseNames } from "./text.ts";
export { headline } from "./headline.ts";
export { renderHtml } from "./html.ts";
export { formatChange } from "./format.ts";
export { phases, type Cohort, type MttrReport, type Phase, type PhaseStats, type PhaseChange } from "./types.ts";
export { importIncidents, readMapping, defaultMapping, mappedFields, type FieldMapping, type ImportOptions, type ImportReport, type MappedField } from "./import.ts";
export { timestampReader } from "./timestamps.ts";
export { presetNames, presets, recognisedNames } from "./columns.ts";
