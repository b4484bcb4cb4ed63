// The three tools of the fleet benchmark, set up alike for one loopback sshd
// fleet (test/harness/fleet.ts): the same hosts, user, key and known_hosts,
// strict host key checking everywhere, 50 connections at once. opskit reads
// an opskit.yaml; parallel-ssh a host file and ssh options; Ansible an INI
// inventory and an ansible.cfg (forks 50, pipelining, ControlPersist). Every
// run is checked: a run in which any host did not answer as expected is no
// measurement and fails the benchmark.
import { readFileSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { hostname, release } from "node:os";
import type { Fleet } from "../test/harness/fleet.ts";
import { opskitBin, outDir, root, runToEnd, track, type Finished } from "./process.ts";

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
  /** Peak RSS of the tool's process: GNU time's %M for opskit exec; elsewhere Bun's ru_maxrss, which may read the runner's own (see opskitExec). */
  maxRssBytes: number;
  /** The tool's whole process tree, sampled while it ran (hostname runs only). */
  tree?: TreePeak;
}

/** The most the tool's process tree held at any sample: PSS and RSS summed over its processes, and how many there were. */
export interface TreePeak {
  pssBytes: number;
  rssBytes: number;
  processes: number;
  samples: number;
  /** The most TCP connections to the fleet's port established at one sample (client side; only the tool connects during its run). */
  connections: number;
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

/** Writes each tool's files for `fleet` into `dir` (bench/out/fleet/ for the 50 hosts). */
export async function prepareFleetTools(fleet: Fleet, dir = `${outDir}/fleet`): Promise<FleetSetup> {
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

const toolRun = (run: Finished & { tree?: TreePeak }): ToolRun => ({
  seconds: run.wallSeconds,
  cpuSeconds: run.cpuSeconds,
  maxRssBytes: run.maxRssBytes,
  ...(run.tree ? { tree: run.tree } : {}),
});

/** A hostname run is allowed 0.6 s a host, two minutes at least: parallel-ssh takes about 0.1 s a host here. */
const hostnameTimeoutMs = (hosts: number) => Math.max(120_000, hosts * 600);

/** Children of `pid` from /proc (every thread's list), and theirs. */
function treeOf(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    try {
      for (const task of readFileSync(`/proc/${tree[i]}/task/${tree[i]}/children`, "utf8").trim().split(/\s+/)) if (task) tree.push(Number(task));
    } catch {
      // Ended while we looked.
    }
  }
  return tree;
}

const SAMPLE_EVERY_MS = 250;

/** Client-side sockets established to `port`, from /proc/net/tcp (loopback IPv4). */
export function establishedTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .filter((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[2]?.endsWith(`:${hexPort}`) && fields[3] === "01";
    }).length;
}

/**
 * runToEnd, sampling the tool's process tree every 250 ms: PSS and RSS
 * summed over its processes (parallel-ssh runs one ssh client per host in
 * flight), and the connections established to the fleet's `port`. Reads the
 * tree's own /proc files, a few dozen a sample, and /proc/net/tcp.
 */
async function runSampled(cmd: string[], timeoutMs: number, env: Record<string, string | undefined>, port: number): Promise<Finished & { tree: TreePeak }> {
  const started = performance.now();
  const child = track(Bun.spawn(cmd, { cwd: root, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs, killSignal: "SIGKILL", env }));
  const peak: TreePeak = { pssBytes: 0, rssBytes: 0, processes: 0, samples: 0, connections: 0 };
  const sample = () => {
    let pss = 0;
    let rss = 0;
    let processes = 0;
    for (const pid of treeOf(child.pid)) {
      try {
        const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
        pss += Number(/^Pss:\s+(\d+) kB$/m.exec(rollup)?.[1] ?? 0) * 1024;
        rss += Number(/^Rss:\s+(\d+) kB$/m.exec(rollup)?.[1] ?? 0) * 1024;
        processes += 1;
      } catch {
        // Ended while we looked.
      }
    }
    peak.samples += 1;
    peak.connections = Math.max(peak.connections, establishedTo(port));
    if (pss > peak.pssBytes) Object.assign(peak, { pssBytes: pss, rssBytes: rss, processes });
  };
  const sampler = setInterval(sample, SAMPLE_EVERY_MS);
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  clearInterval(sampler);
  const usage = child.resourceUsage();
  return {
    exitCode: child.exitCode,
    stdout,
    stderr,
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: usage ? Number(usage.cpuTime.total) / 1e6 : NaN,
    maxRssBytes: usage?.maxRSS ?? NaN,
    tree: peak,
  };
}

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
/**
 * `opskit exec 'name=*' --concurrency 50 --json -- COMMAND` under GNU time,
 * expecting `expected` from every host. Its peak RSS is GNU time's %M: the
 * ru_maxrss Bun reports for a child it spawned also counts the child's image
 * before exec, a copy of the runner's own (Linux keeps the larger), and read
 * the runner's 154 MB for every tool in one run.
 */
export async function opskitExec(setup: FleetSetup, command: string, expected: string): Promise<ToolRun> {
  const timeFile = `${setup.dir}/exec-time.txt`;
  const run = await runSampled(
    [
      "/usr/bin/time", "-f", "%M", "-o", timeFile,
      opskitBin, "exec", "name=*", "--concurrency", String(CONCURRENCY), "--json", "-c", setup.opskitConfig, "--journal", setup.journal, "--", command,
    ],
    hostnameTimeoutMs(setup.fleet.hosts.length),
    setup.env,
    setup.fleet.hosts[0]!.port,
  );
  checkOpskit(run, [expected], setup.fleet.hosts.length);
  const maxRssKiB = Number(readFileSync(timeFile, "utf8").trim().split("\n").at(-1));
  return { ...toolRun(run), maxRssBytes: maxRssKiB * 1024 };
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
  const run = await runSampled(["parallel-ssh", ...setup.psshArgs, command], hostnameTimeoutMs(setup.fleet.hosts.length), setup.env, setup.fleet.hosts[0]!.port);
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
