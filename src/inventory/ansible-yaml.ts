import { readYamlDocument, type ConfigPath, type YamlDocument } from "../schema/index.ts";
import { configError } from "../errors.ts";
import { emptyInventory, expandHostPattern, groupIn, type AnsibleInventory } from "./ansible-model.ts";

/*
 * Ansible's YAML inventory: top-level keys are groups (usually just `all`);
 * each group may hold `hosts` (a map of host to its vars), `vars` and
 * `children` (a map of nested groups, written the same way).
 */
export function parseAnsibleYaml(text: string, display: string): AnsibleInventory {
  const doc = readYamlDocument(text, display);
  const inventory = emptyInventory();
  if (doc.value === null || doc.value === undefined) return inventory;
  const top = mapAt(doc, doc.value, [], "the top level");
  for (const [name, body] of Object.entries(top)) visitGroup(doc, inventory, name, body, [name]);
  return inventory;
}

const groupKeys = new Set(["hosts", "vars", "children"]);

function visitGroup(doc: YamlDocument, inventory: AnsibleInventory, name: string, body: unknown, path: ConfigPath): void {
  const where = doc.where(path, "key");
  groupIn(inventory, name, where);
  if (body === null || body === undefined) return;
  const group = mapAt(doc, body, path, `group "${name}"`);
  for (const key of Object.keys(group)) {
    if (!groupKeys.has(key)) {
      throw configError("E_ANSIBLE_INVENTORY", `${doc.where([...path, key], "key")}: unknown key "${key}" in group "${name}"`, "a group holds hosts, vars and children; put host names under hosts:");
    }
  }
  const hosts = group.hosts === null || group.hosts === undefined ? {} : mapAt(doc, group.hosts, [...path, "hosts"], `${name}.hosts`);
  for (const [pattern, vars] of Object.entries(hosts)) {
    const hostWhere = doc.where([...path, "hosts", pattern], "key");
    const hostVars = vars === null || vars === undefined ? {} : mapAt(doc, vars, [...path, "hosts", pattern], `host "${pattern}"`);
    for (const { name: host, port } of expandHostPattern(pattern, hostWhere)) {
      inventory.addHost(name, host, port === undefined ? hostVars : { ansible_port: port, ...hostVars }, hostWhere);
    }
  }
  if (group.vars !== null && group.vars !== undefined) Object.assign(groupIn(inventory, name, where).vars, mapAt(doc, group.vars, [...path, "vars"], `${name}.vars`));
  const children = group.children === null || group.children === undefined ? {} : mapAt(doc, group.children, [...path, "children"], `${name}.children`);
  for (const [child, childBody] of Object.entries(children)) {
    groupIn(inventory, name, where).children.add(child);
    visitGroup(doc, inventory, child, childBody, [...path, "children", child]);
  }
}

function mapAt(doc: YamlDocument, value: unknown, path: ConfigPath, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw configError("E_ANSIBLE_INVENTORY", `${doc.where(path)}: ${what} should be a map`, "see https://docs.ansible.com/ansible/latest/inventory_guide/intro_inventory.html for the YAML layout");
  }
  return value as Record<string, unknown>;
}
