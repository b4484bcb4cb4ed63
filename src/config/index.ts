// Loading: YAML parsed with source positions and validated by zod schemas, so
// every config error names file:line:col and says how to fix it.
export { loadYamlFile, parseYaml, type Located } from "./yaml.ts";
export { resolveSecret, redact } from "./secret.ts";
export { actionKinds, configSchema, type ActionKind, type Config, type Step, type Strategy, type Workflow } from "./schema.ts";
