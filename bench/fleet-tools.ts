// The three tools of the fleet benchmark, set up alike for one loopback sshd
// fleet (test/harness/fleet.ts): the same hosts, user, key and known_hosts,
// strict host key checking everywhere, 50 connections at once. opskit reads
// an opskit.yaml; parallel-ssh a host file and ssh options; Ansible an INI
// inventory and an ansible.cfg (forks 50, pipelining, ControlPersist). Every
// run is checked: a run in which any host did not answer as expected is no
// measurement and fails the benchmark.
import { mkdir, readdir, rm } from "node:fs/promises";
import { hostname, release } from "node:os";
import type { Fleet } from "../test/harness/fleet.ts";
import { opskitBin, outDir, runToEnd, type Finished } from "./process.ts";

/** The five cheap commands of the workflow benchmark, in order, with the step names opskit gives them. */
export const FIVE_STEPS = [
  { name: "hostname", command: "hostname" },
  { name: "uid", command: "id -u" },
  { name: "kernel", command: "uname -r" },
  { name: "tmp", command: "test -d /tmp" },
  { name: "done", command: "echo done" },
] as const;

export const CONCURRENCY = 50;

export interface FleetSetup {
  fleet: Fleet;
  dir: string;
  opskitConfig: string;
  journal: string;
  psshHosts: string;
  /** parallel-ssh's options before the command. */
  psshArgs: string[];
  /** This process's environment without SSH_AUTH_SOCK: every tool authenticates with the fleet's key file alone. */
  env: Record<string, string | undefined>;
  ansibleEnv: Record<string, string | undefined>;
  playbooks: { command: string; raw: string };
  /** Where Ansible's ControlPersist masters put their sockets. */
  controlDir: string;
  /** What each of FIVE_STEPS prints on every host (they all run on this machine). */
  expected: string[];
}

export interface ToolRun {
  seconds: number;
  /** user+sys of the tool and the children it waited for (ssh clients, Ansible's forks). */
  cpuSeconds: number;
  maxRssBytes: number;
}

/** opskit's per-host timings from `opskit run --json` events. */
export interface StepTimings {
  /** Per host: from the target's start to the end of its first step (connect, auth, remote shell start, the command). */
  firstStepMs: number[];
  /** Per host and later step: the command's round trip on the open shell. */
  laterStepMs: number[];
}

// JSON keeps every value a valid YAML scalar, whatever the path holds.
const yamlValue = (value: string | number) => JSON.stringify(value);

function opskitYaml(fleet: Fleet): string {
  return [
    "# opskit's side of the fleet benchmark (bench/fleet.ts); written at each run.",
    "inventory:",
    "  hosts:",
    ...fleet.hosts.map((h) => `    ${h.name}: { address: ${yamlValue(h.address)}, port: ${h.port} }`),
    "defaults:",
    `  user: ${yamlValue(fleet.user)}`,
    `  key: ${yamlValue(fleet.identityFile)}`,
    `  knownHosts: ${yamlValue(fleet.knownHostsFile)}`,
    "  hostKeyChecking: strict",
    "workflows:",
    "  five:",
    "    targets: name=*",
    `    strategy: { parallel: { concurrency: ${CONCURRENCY} } }`,
    "    steps:",
    ...FIVE_STEPS.map((s) => `      - { name: ${s.name}, ssh: ${yamlValue(s.command)} }`),
    "",
  ].join("\n");
}

function ansibleInventory(fleet: Fleet): string {
  const lines = fleet.hosts.map(
    (h) => `${h.name} ansible_host=${h.address} ansible_port=${h.port} ansible_user=${fleet.user} ansible_ssh_private_key_file=${fleet.identityFile}`,
  );
  return ["[fleet]", ...lines, ""].join("\n");
}

// ssh_args keeps Ansible's default (-C, ControlMaster, ControlPersist=60s) and
// adds the fleet's known_hosts. The Python interpreter is named, which saves
// the discovery round trip Ansible otherwise makes on each host's first task.
function ansibleConfig(dir: string, fleet: Fleet, controlDir: string): string {
  return `[defaults]
inventory = ${dir}/inventory.ini
forks = ${CONCURRENCY}
host_key_checking = True
gathering = explicit
interpreter_python = /usr/bin/python3
retry_files_enabled = False
nocolor = True

[ssh_connection]
pipelining = True
ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${fleet.knownHostsFile} -o StrictHostKeyChecking=yes -o BatchMode=yes
control_path_dir = ${controlDir}
`;
}

function playbook(module: "command" | "raw"): string {
  const tasks = FIVE_STEPS.map((s) => `    - name: ${s.name}\n      ${module}: ${s.command}`);
  return [`- name: five ${module} tasks`, "  hosts: all", "  gather_facts: false", "  tasks:", ...tasks, ""].join("\n");
}

/** Writes each tool's files for `fleet` into bench/out/fleet/. */
export async function prepareFleetTools(fleet: Fleet): Promise<FleetSetup> {
  const dir = `${outDir}/fleet`;
  await rm(dir, { recursive: true, force: true });
  const controlDir = `${dir}/ansible-cp`;
  await mkdir(controlDir, { recursive: true });
  const opskitConfig = `${dir}/opskit.yaml`;
  await Bun.write(opskitConfig, opskitYaml(fleet));
  const psshHosts = `${dir}/pssh-hosts.txt`;
  await Bun.write(psshHosts, fleet.hosts.map((h) => `${h.address}:${h.port}\n`).join(""));
  await Bun.write(`${dir}/inventory.ini`, ansibleInventory(fleet));
  await Bun.write(`${dir}/ansible.cfg`, ansibleConfig(dir, fleet, controlDir));
  const playbooks = { command: `${dir}/five-command.yml`, raw: `${dir}/five-raw.yml` };
  await Bun.write(playbooks.command, playbook("command"));
  await Bun.write(playbooks.raw, playbook("raw"));

  const uid = Bun.spawnSync(["id", "-u", fleet.user]).stdout.toString().trim();
  const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
  return {
    fleet,
    dir,
    opskitConfig,
    journal: `${dir}/journal.db`,
    psshHosts,
    psshArgs: [
      "-h", psshHosts, "-l", fleet.user, "-p", String(CONCURRENCY), "-t", "60", "-i",
      "-x", `-i ${fleet.identityFile} -o UserKnownHostsFile=${fleet.knownHostsFile} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
    ],
    env,
    ansibleEnv: { ...env, ANSIBLE_CONFIG: `${dir}/ansible.cfg`, ANSIBLE_HOME: `${dir}/ansible-home`, ANSIBLE_NOCOLOR: "1" },
    playbooks,
    controlDir,
    expected: [hostname(), uid, release(), "", "done"],
  };
}

const toolRun = (run: Finished): ToolRun => ({ seconds: run.wallSeconds, cpuSeconds: run.cpuSeconds, maxRssBytes: run.maxRssBytes });

function fail(tool: string, why: string, run: Finished): never {
  throw new Error(`${tool}: ${why} (exit ${run.exitCode})\n${run.stdout.slice(-1500)}${run.stderr.slice(-1500)}`);
}

interface OpskitEvent {
  type: string;
  target?: string;
  index?: number;
  startedAt?: string;
  durationMs?: number;
  status?: string;
  result?: { exitCode: number | null; stdout: string; durationMs: number };
}

function parseEvents(run: Finished): OpskitEvent[] {
  return run.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as OpskitEvent);
}

/**
 * Checks a `--json` run: it succeeded, and every host ran every step with
 * exit 0 printing what was expected.
 */
function checkOpskit(run: Finished, expected: string[], hosts: number): OpskitEvent[] {
  if (run.exitCode !== 0) fail("opskit", "did not exit 0", run);
  const events = parseEvents(run);
  const finished = events.find((e) => e.type === "run.finished");
  if (finished?.status !== "succeeded") fail("opskit", `run status ${finished?.status}`, run);
  const steps = events.filter((e) => e.type === "step.finished");
  const good = steps.filter((e) => e.result?.exitCode === 0 && e.result.stdout.trim() === expected[e.index ?? -1]);
  if (good.length !== hosts * expected.length) fail("opskit", `${good.length} of ${hosts * expected.length} steps exited 0 with the expected output`, run);
  return events;
}

/** `opskit exec 'name=*' --concurrency 50 --json -- COMMAND`, expecting `expected` from every host. */
export async function opskitExec(setup: FleetSetup, command: string, expected: string): Promise<ToolRun> {
  const run = await runToEnd(
    [opskitBin, "exec", "name=*", "--concurrency", String(CONCURRENCY), "--json", "-c", setup.opskitConfig, "--journal", setup.journal, "--", command],
    120_000,
    setup.env,
  );
  checkOpskit(run, [expected], setup.fleet.hosts.length);
  return toolRun(run);
}

/** `opskit run five --json`: the five steps on every host, with opskit's own per-step timings. */
export async function opskitFive(setup: FleetSetup): Promise<ToolRun & { timings: StepTimings }> {
  const run = await runToEnd([opskitBin, "run", "five", "--json", "-c", setup.opskitConfig, "--journal", setup.journal], 120_000, setup.env);
  const events = checkOpskit(run, setup.expected, setup.fleet.hosts.length);
  const timings: StepTimings = { firstStepMs: [], laterStepMs: [] };
  for (const target of events.filter((e) => e.type === "target.finished")) {
    const steps = events.filter((e) => e.type === "step.finished" && e.target === target.target);
    const second = steps.find((e) => e.index === 1);
    // A step's startedAt is when the engine began it; its durationMs counts from the shell run (after any connect).
    if (second?.startedAt && target.startedAt) timings.firstStepMs.push(Date.parse(second.startedAt) - Date.parse(target.startedAt));
    for (const step of steps) if ((step.index ?? 0) > 0) timings.laterStepMs.push(step.result?.durationMs ?? NaN);
  }
  return { ...toolRun(run), timings };
}

/** One parallel-ssh run of `command` on every host (-i prints each host's output after its status line). */
export async function psshCommand(setup: FleetSetup, command: string, expected: string): Promise<ToolRun> {
  const run = await runToEnd(["parallel-ssh", ...setup.psshArgs, command], 120_000, setup.env);
  const lines = run.stdout.split("\n");
  const ok = lines.filter((l) => / \[SUCCESS\] /.test(l)).length;
  const hosts = setup.fleet.hosts.length;
  if (run.exitCode !== 0 || ok !== hosts) fail("parallel-ssh", `${ok} of ${hosts} hosts reported SUCCESS`, run);
  if (expected !== "" && lines.filter((l) => l === expected).length !== hosts) fail("parallel-ssh", `not every host printed "${expected}"`, run);
  return toolRun(run);
}

/** parallel-ssh five times, one command each: what a pssh user does for five steps. */
export async function psshFive(setup: FleetSetup): Promise<ToolRun> {
  const total: ToolRun = { seconds: 0, cpuSeconds: 0, maxRssBytes: 0 };
  for (const [i, step] of FIVE_STEPS.entries()) {
    const run = await psshCommand(setup, step.command, setup.expected[i]!);
    total.seconds += run.seconds;
    total.cpuSeconds += run.cpuSeconds;
    total.maxRssBytes = Math.max(total.maxRssBytes, run.maxRssBytes);
  }
  return total;
}

/**
 * Ends the ControlPersist masters an Ansible run left (each holds a
 * connection), so that every Ansible run starts from cold like the others.
 * Returns how many there were.
 */
export async function closeControlMasters(setup: FleetSetup): Promise<number> {
  const sockets = await readdir(setup.controlDir);
  await Promise.all(sockets.map((s) => runToEnd(["ssh", "-o", `ControlPath=${setup.controlDir}/${s}`, "-O", "exit", "master"], 10_000, setup.ansibleEnv)));
  for (const s of await readdir(setup.controlDir)) await rm(`${setup.controlDir}/${s}`, { force: true });
  return sockets.length;
}

/** `ansible all -m MODULE -a COMMAND`; every host must report rc=0 and print `expected`. */
export async function ansibleAdhoc(setup: FleetSetup, module: "raw" | "command", command: string, expected: string): Promise<ToolRun & { masters: number }> {
  const run = await runToEnd(["ansible", "all", "-m", module, "-a", command], 300_000, setup.ansibleEnv);
  const masters = await closeControlMasters(setup);
  const lines = run.stdout.split("\n");
  const hosts = setup.fleet.hosts.length;
  const ok = lines.filter((l) => /\| CHANGED \| rc=0/.test(l)).length;
  if (run.exitCode !== 0 || ok !== hosts) fail(`ansible -m ${module}`, `${ok} of ${hosts} hosts reported CHANGED rc=0`, run);
  if (lines.filter((l) => l.trim() === expected).length < hosts) fail(`ansible -m ${module}`, `not every host printed "${expected}"`, run);
  return { ...toolRun(run), masters };
}

/** Both Ansible commands on one host, untimed: loads what every later run reads. */
export async function ansibleWarmup(setup: FleetSetup): Promise<void> {
  const first = setup.fleet.hosts[0]!.name;
  for (const cmd of [["ansible", first, "-m", "command", "-a", "hostname"], ["ansible-playbook", "--limit", first, setup.playbooks.command]]) {
    const run = await runToEnd(cmd, 120_000, setup.ansibleEnv);
    if (run.exitCode !== 0) fail(cmd[0]!, "warmup failed", run);
  }
  await closeControlMasters(setup);
}

/** `ansible-playbook` of five tasks; the recap must show ok=5 and no failure on every host. */
export async function ansiblePlaybook(setup: FleetSetup, module: "command" | "raw"): Promise<ToolRun & { masters: number }> {
  const run = await runToEnd(["ansible-playbook", setup.playbooks[module]], 600_000, setup.ansibleEnv);
  const masters = await closeControlMasters(setup);
  const recap = run.stdout.split("\n").filter((l) => /\bok=5\s+changed=\d+\s+unreachable=0\s+failed=0\b/.test(l)).length;
  const hosts = setup.fleet.hosts.length;
  if (run.exitCode !== 0 || recap !== hosts) fail(`ansible-playbook (${module})`, `${recap} of ${hosts} hosts recapped ok=5 failed=0`, run);
  return { ...toolRun(run), masters };
}
