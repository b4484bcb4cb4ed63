import { configError } from "../errors.ts";
import { emptyInventory, expandHostPattern, groupIn, type AnsibleInventory } from "./ansible-model.ts";

/*
 * Ansible's INI inventory: hosts before any section are ungrouped; [name]
 * lists hosts with inline key=value vars, [name:vars] sets group vars,
 * [name:children] nests groups. As in Ansible, inline values are read as
 * literals (2222 is a number, True a boolean) and [group:vars] values stay
 * strings.
 * https://docs.ansible.com/ansible/latest/inventory_guide/intro_inventory.html
 */
export function parseAnsibleIni(text: string, display: string): AnsibleInventory {
  const inventory = emptyInventory();
  let group = "ungrouped";
  let section: "hosts" | "vars" | "children" = "hosts";
  text.split(/\r?\n/).forEach((raw, index) => {
    const where = `${display}:${index + 1}`;
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) return;
    const header = /^\[([^\]]+)\]\s*([#;].*)?$/.exec(line);
    if (header) {
      const [name, kind = "hosts"] = header[1]!.trim().split(":") as [string, string?];
      if (kind !== "hosts" && kind !== "vars" && kind !== "children") {
        throw configError("E_ANSIBLE_INVENTORY", `${where}: unknown section kind ":${kind}"`, "use [group], [group:vars] or [group:children]");
      }
      if (!/^[\w.-]+$/.test(name)) throw configError("E_ANSIBLE_INVENTORY", `${where}: invalid group name "${name}"`, "use letters, digits, _ . and -");
      group = name;
      section = kind;
      groupIn(inventory, name, where);
      return;
    }
    const tokens = splitShellWords(line, where);
    if (tokens.length === 0) return;
    if (section === "children") {
      groupIn(inventory, tokens[0]!, where);
      groupIn(inventory, group, where).children.add(tokens[0]!);
    } else if (section === "vars") {
      const eq = line.indexOf("=");
      if (eq <= 0) throw configError("E_ANSIBLE_INVENTORY", `${where}: expected key=value in [${group}:vars]`, "write one variable a line, e.g. ntp_server=ntp.example.com");
      groupIn(inventory, group, where).vars[line.slice(0, eq).trim()] = unquote(line.slice(eq + 1).trim());
    } else {
      const vars: Record<string, unknown> = {};
      for (const token of tokens.slice(1)) {
        const eq = token.indexOf("=");
        if (eq <= 0) throw configError("E_ANSIBLE_INVENTORY", `${where}: expected key=value after the host name, got "${token}"`, "write host vars as key=value, e.g. ansible_port=2222");
        vars[token.slice(0, eq)] = literal(token.slice(eq + 1));
      }
      for (const { name, port } of expandHostPattern(tokens[0]!, where)) {
        inventory.addHost(group, name, port === undefined ? vars : { ansible_port: port, ...vars }, where);
      }
    }
  });
  return inventory;
}

/** Splits like Python's shlex (which Ansible uses): quotes group, `#` after whitespace starts a comment. */
function splitShellWords(line: string, where: string): string[] {
  const words: string[] = [];
  let current = "";
  let quote: string | undefined;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === "\\" && quote === '"' && i + 1 < line.length) current += line[++i];
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else if (char === "#" && !inWord) {
      break;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (quote) throw configError("E_ANSIBLE_INVENTORY", `${where}: unterminated ${quote} quote`, `close the quote`);
  if (inWord) words.push(current);
  return words;
}

function unquote(value: string): string {
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
}

/** The Python literals Ansible recognises inline: numbers and True/False; anything else stays a string. */
function literal(value: string): unknown {
  if (/^-?\d+$/.test(value)) return Number(value);
  if (/^-?\d+\.\d+$/.test(value)) return Number(value);
  if (value === "True") return true;
  if (value === "False") return false;
  return value;
}
