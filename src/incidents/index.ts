// Incident analytics and history: MTTR and its phases computed in SQL from
// the incident milestones, rendered as a table, markdown, JSON or one HTML
// page; and incidents imported from other tools' exports.
export { computeMttr, planMttr, parseDate, changesBetween, type MttrOptions } from "./mttr.ts";
export { renderTable, renderMarkdown, phaseNames } from "./text.ts";
export { headline } from "./headline.ts";
export { renderHtml } from "./html.ts";
export { formatDuration, formatChange } from "./format.ts";
export { phases, type Cohort, type MttrReport, type Phase, type PhaseStats, type PhaseChange } from "./types.ts";
export { importIncidents, readMapping, defaultMapping, mappedFields, type FieldMapping, type ImportOptions, type ImportReport, type MappedField } from "./import.ts";
export { timestampReader } from "./timestamps.ts";
