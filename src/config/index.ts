// Loading: YAML parsed with source positions and validated by zod schemas, so
// every config error names file:line:col and says how to fix it.
export { loadYamlFile, parseYaml, type Located } from "./yaml.ts";
