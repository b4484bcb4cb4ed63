// What a kind uses to declare and read its part of the config: the schema kit
// (zod and the shared field types, passed in so this module never loads zod),
// YAML documents that know where each value sits, and secret references.
export { BECOME_METHODS, BECOME_USER, createSchemaKit, type BecomeMethod, type SchemaKit } from "./kit.ts";
export { loadYamlFile, parseYaml, readYamlDocument, validateYaml, formatPath, type Located, type YamlDocument, type ConfigPath } from "./yaml.ts";
export { isSecretReference, registerReferencedSecrets, resolveSecret, resolveSecretNow, SECRET_REFERENCE } from "./secret.ts";
