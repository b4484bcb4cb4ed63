import type { PermissionSubject } from "../actions/index.ts";
import { scanCommand, sshExports, sudoIn } from "./command-scan.ts";

/*
 * A subject an action declares (actions/*.ts `subjects`), read the way the
 * rules match it: every form a glob may match, so that quoting, blanks, an
 * ssh env prefix or a URL's case cannot slip past a deny.
 */

export type JudgedSubject = {
  category: "commands" | "http" | "kube";
  label: string;
  shown: string;
  forms: string[];
  /** The root-running wrapper a command uses (sudo, doas, …). */
  sudo?: string;
};

/** A command as written, without the ssh action's env prefix, and unquoted with blanks collapsed. */
function commandForms(command: string): string[] {
  const trimmed = command.trim();
  const bare = trimmed.replace(sshExports, "");
  return [...new Set([trimmed, bare, scanCommand(trimmed).unquoted.trim(), scanCommand(bare).unquoted.trim()])];
}

/** A URL as written and, for http(s), as fetched (host lower-cased, dot segments resolved). */
function urlForms(url: string): string[] {
  const trimmed = url.trim();
  try {
    const parsed = new URL(trimmed);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return [...new Set([trimmed, parsed.href])];
  } catch {}
  return [trimmed];
}

/** `VERB KIND/NAME` and, for a namespaced object, `VERB NAMESPACE/KIND/NAME`, for every spelling of its kind. */
function kubeForms(subject: Extract<PermissionSubject, { category: "kube" }>): string[] {
  return subject.kinds.flatMap((kind) => [`${subject.verb} ${kind}/${subject.name}`, ...(subject.namespace ? [`${subject.verb} ${subject.namespace}/${kind}/${subject.name}`] : [])]);
}

export function judgedSubject(subject: PermissionSubject): JudgedSubject {
  if (subject.category === "kube") {
    const where = subject.namespace ? `${subject.namespace}/` : "";
    const shown = `${subject.verb} ${where}${subject.kinds[0]}/${subject.name}${subject.context ? ` @${subject.context}` : ""}`;
    return { category: "kube", label: subject.label, shown, forms: kubeForms(subject) };
  }
  if (subject.category === "commands") {
    const shown = subject.command.trim();
    const sudo = sudoIn(shown);
    return { category: "commands", label: subject.label, shown, forms: commandForms(shown), ...(sudo ? { sudo } : {}) };
  }
  return { category: "http", label: subject.label, shown: subject.shown ?? subject.url.trim(), forms: urlForms(subject.url) };
}
