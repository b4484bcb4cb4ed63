import type { z as Zod } from "zod";
import { markSecretField, SECRET_REFERENCE } from "./secret.ts";

/** A user name become may switch to: a step's or workflow's becomeUser, an inventory host's or group's, `opskit exec --become-user`. */
export const BECOME_USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;
/** How become switches user: `sudo -n -u USER --`, `doas -n -u USER --`, `su -s /bin/sh -c ... USER`. */
export const BECOME_METHODS = ["sudo", "doas", "su"] as const;
export type BecomeMethod = (typeof BECOME_METHODS)[number];

/** The field types every part of opskit.yaml shares, built from the zod that is passed in. */
function sharedFields(z: typeof Zod) {
  return {
    becomeUser: z.string().regex(BECOME_USER, "a user name such as root, postgres or www-data"),
    becomeMethod: z.enum(BECOME_METHODS),
    duration: z.string().regex(/^(\d+(\.\d+)?(ms|s|m|h|d))+$|^\d+$/, 'a duration such as "500ms", "5s", "1m30s" or "2h"'),
    labels: z.record(z.string(), z.coerce.string()),
    /** A secret reference: the value itself never sits in the file, and a validation error does not echo what does. */
    secretRef: markSecretField(z.string().regex(SECRET_REFERENCE, 'a reference such as "env:NAME" or "file:/path"')),
  };
}

/** "a, b or c" */
const either = (names: readonly string[]) => (names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`);

/** Refines an object whose keys name kinds (a wait's polled action, an inventory source) to hold exactly one of them. */
function exactlyOneOf<T extends Zod.ZodType>(schema: T, keys: readonly string[], lead: string) {
  return schema.refine((value) => keys.filter((key) => Boolean((value as Record<string, unknown>)[key])).length === 1, `${lead} exactly one of ${either(keys)}`);
}

/**
 * What a kind's part of the config is built from: zod and the field types
 * that every part of opskit.yaml shares. Kinds (actions, inventory sources)
 * take it as an argument rather than importing zod, so that loading an action
 * to run it does not load zod.
 */
export type SchemaKit = { z: typeof Zod; exactlyOneOf: typeof exactlyOneOf } & ReturnType<typeof sharedFields> & {
  /** A kind's schema, built once however many places hold it (a step and a wait's polled action, a rule's verify probe): zod objects are costly to build at every start. */
  schemaOf<S extends Zod.ZodType>(declare: (kit: SchemaKit) => S): S;
};

/**
 * The kit, from zod itself: the composed config schema builds one when it
 * loads, so this module never imports zod at run time.
 */
export function createSchemaKit(z: typeof Zod): SchemaKit {
  const built = new Map<(kit: SchemaKit) => Zod.ZodType, Zod.ZodType>();
  const kit: SchemaKit = {
    z,
    exactlyOneOf,
    ...sharedFields(z),
    schemaOf<S extends Zod.ZodType>(declare: (kit: SchemaKit) => S): S {
      if (!built.has(declare)) built.set(declare, declare(kit));
      return built.get(declare) as S;
    },
  };
  return kit;
}
