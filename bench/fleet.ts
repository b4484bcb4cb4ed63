// Benchmark "fleet": opskit exec and run against parallel-ssh and Ansible on
// a fleet of 50 OpenSSH sshd hosts on loopback (test/harness/fleet.ts), all
// three tools with the same hosts, user, key and known_hosts and strict host
// key checking (bench/fleet-tools.ts); the same hostname run against
// parallel-ssh on fleets of 200 and 500 hosts, with opskit's peak RSS: the
// cost-growth table (bench/fleet-growth.ts); then opskit's peak RSS with 500
// sessions open at once, over the 50 hosts and over the fleet of 500
// (bench/fleet-sessions.ts). How runs are timed and rounds alternate:
// bench/fleet-rounds.ts. Ansible takes 15-150 s a run, so it runs in fewer
// rounds than opskit and parallel-ssh, and only on the 50 hosts; the whole
// benchmark takes about twelve minutes.
import { startFleet, type Fleet } from "../test/harness/fleet.ts";
import {
  ansibleAdhoc, ansiblePlaybook, ansibleWarmup, CONCURRENCY, FIVE_STEPS, opskitExec, opskitFive, prepareFleetTools, psshCommand, psshFive,
  type FleetSetup,
} from "./fleet-tools.ts";
import { GROWTH_SIZES, growthResults, measureGrowth, type GrowthPoint } from "./fleet-growth.ts";
import { measureOpskitSessions, measurePsshSessions, SESSIONS, type HeldSessions, type OpskitSessions } from "./fleet-sessions.ts";
import { awaitFleetIdle, busyLine, cpu, machine, mb, ms, QUIET_WAIT_MS, roundRatios, rounds, sec, times, wall, type Sample, type Samples } from "./fleet-rounds.ts";
import { awaitQuiet } from "./machine.ts";
import { outDir } from "./process.ts";
import type { BenchResult } from "./report.ts";
import { median } from "./stats.ts";

export { awaitFleetIdle } from "./fleet-rounds.ts";

const FLEET_SIZE = 50;
const HOSTNAME_ROUNDS = 5;
/** Ansible's ad-hoc runs take part in the first rounds only. */
const HOSTNAME_ANSIBLE_ROUNDS = 3;
const FIVE_ROUNDS = 3;
const FIVE_ANSIBLE_ROUNDS = 1;
const GOALS = { pssh: 1.8, raw: 4, command: 8, psshFive: 6, playbook: 15 };
/**
 * F6's names per address: all of an address's targets share one pooled
 * connection, which opens at most 9 sessions at once (10 channels, OpenSSH's
 * default MaxSessions, less one kept for stopping commands); a 10th name
 * would wait for a slot, and never reach the barrier.
 */
const NAMES_PER_ADDRESS = 9;
const verdict = (ratio: number, goal: number) => `**${ratio.toFixed(2)}x** (goal >= ${goal}x): ${ratio >= goal ? "met" : "NOT met"}`;

function hostnameResults(h: Samples): BenchResult[] {
  const o = wall(h.opskit!);
  const ratio = (anchor: string) => wall(h[anchor]!) / o;
  const sshdPerConnection = (runs: Sample[]) => ms(median(runs.map((r) => r.sshdCpu)) / FLEET_SIZE);
  const ansibleLine = (name: string, cmd: string) =>
    `- Ansible (\`${cmd}\`): median **${sec(wall(h[name]!))}** over ${h[name]!.length} runs (${times(h[name]!)} s); CPU (user+sys, its forks and ssh clients; not the ControlPersist masters, which detach) ${sec(cpu(h[name]!))}; ${h[name]![0]!.masters} ControlPersist masters after each run, closed before the next run`;
  const row = (name: string, title: string, anchor: string, goal: number, details: string[]): BenchResult => ({
    name: "fleet",
    title,
    opskit: `${sec(o)} median`,
    anchor: `${anchor} ${sec(wall(h[name]!))} median`,
    ratio: `${ratio(name).toFixed(2)}x faster`,
    goal: `>= ${goal}x faster`,
    met: ratio(name) >= goal,
    details,
  });
  return [
    row("pssh", "F1. hostname on 50 hosts vs parallel-ssh", "parallel-ssh", GOALS.pssh, [
      `- opskit (\`opskit exec 'name=*' --concurrency ${CONCURRENCY} --json -- hostname\`): median **${sec(o)}** over ${h.opskit!.length} runs (${times(h.opskit!)} s); CPU (user+sys) ${sec(cpu(h.opskit!))}; peak RSS ${mb(median(h.opskit!.map((r) => r.maxRssBytes)))}`,
      `- parallel-ssh (\`parallel-ssh -h HOSTS -l opskit-test -p ${CONCURRENCY} -t 60 -i -x '-i KEY -o UserKnownHostsFile=FILE -o StrictHostKeyChecking=yes -o BatchMode=yes' hostname\`): median **${sec(wall(h.pssh!))}** over ${h.pssh!.length} runs (${times(h.pssh!)} s); CPU (user+sys, its 50 ssh clients included) ${sec(cpu(h.pssh!))}`,
      `- ratio of medians ${verdict(ratio("pssh"), GOALS.pssh)}; per round: ${roundRatios(h, "pssh")}`,
      `- sshd CPU per new connection (the listeners' reaped per-connection processes: start, key exchange, auth, session): ${sshdPerConnection(h.opskit!)} for opskit's, ${sshdPerConnection(h.pssh!)} for parallel-ssh's; ${FLEET_SIZE} connections on 2 cores make a floor near ${sec((median(h.opskit!.map((r) => r.sshdCpu)) / 2))} for any tool`,
      `- all CPU the machine spent during a run (the tool, sshd, the remote commands, any other work): median ${sec(machine(h.opskit!))} for opskit, ${sec(machine(h.pssh!))} for parallel-ssh; the two cores were ${Math.round((100 * median(h.opskit!.map((r) => r.machineCpu / r.seconds))) / 2)}% busy during opskit's runs: at this fleet size the tools are bound by the machine's CPU, most of it sshd's`,
      `- checks: every run exited 0; opskit: ${FLEET_SIZE} step results with exit 0 printing the host name; parallel-ssh: ${FLEET_SIZE} \`[SUCCESS]\` lines and ${FLEET_SIZE} host names`,
      busyLine(h),
    ]),
    row("raw", "F2. hostname on 50 hosts vs ansible -m raw", "ansible raw", GOALS.raw, [
      ansibleLine("raw", "ansible all -m raw -a hostname"),
      `- ratio of medians (opskit's as in F1) ${verdict(ratio("raw"), GOALS.raw)}; per round: ${roundRatios(h, "raw")}`,
      `- checks: exit 0, ${FLEET_SIZE} \`CHANGED | rc=0\` lines and ${FLEET_SIZE} host names in every run`,
    ]),
    row("command", "F3. hostname on 50 hosts vs ansible -m command", "ansible command", GOALS.command, [
      ansibleLine("command", "ansible all -m command -a hostname"),
      `- ratio of medians (opskit's as in F1) ${verdict(ratio("command"), GOALS.command)}; per round: ${roundRatios(h, "command")}`,
      `- checks: exit 0, ${FLEET_SIZE} \`CHANGED | rc=0\` lines and ${FLEET_SIZE} host names in every run`,
    ]),
  ];
}

function fiveResults(f: Samples, h: Samples): BenchResult[] {
  const o = wall(f.opskit!);
  const ratio = (anchor: string) => wall(f[anchor]!) / o;
  const first = f.opskit!.flatMap((r) => r.timings?.firstStepMs ?? []);
  const later = f.opskit!.flatMap((r) => r.timings?.laterStepMs ?? []).sort((a, b) => a - b);
  const p90 = later[Math.floor(later.length * 0.9)] ?? NaN;
  const playbookLine = (name: string, kind: string) =>
    `- \`ansible-playbook\` of five \`${kind}\` tasks: **${sec(wall(f[name]!))}** (${f[name]!.length === 1 ? "one run" : `median of ${f[name]!.length} runs: ${times(f[name]!)} s`}); CPU (user+sys) ${sec(cpu(f[name]!))}; = ${ratio(name).toFixed(2)}x opskit's median`;
  const steps = FIVE_STEPS.map((s) => `\`${s.command}\``).join(", ");
  return [
    {
      name: "fleet",
      title: "F4. five steps on 50 hosts vs parallel-ssh x5",
      opskit: `${sec(o)} median`,
      anchor: `parallel-ssh x5 ${sec(wall(f.pssh!))} median`,
      ratio: `${ratio("pssh").toFixed(2)}x faster`,
      goal: `>= ${GOALS.psshFive}x faster`,
      met: ratio("pssh") >= GOALS.psshFive,
      details: [
        `- steps: ${steps}`,
        `- opskit (\`opskit run five --json\`: five \`ssh\` steps, strategy parallel, concurrency ${CONCURRENCY}): median **${sec(o)}** over ${f.opskit!.length} runs (${times(f.opskit!)} s); CPU (user+sys) ${sec(cpu(f.opskit!))}`,
        `- parallel-ssh run five times, one command each (options as in F1): median **${sec(wall(f.pssh!))}** over ${f.pssh!.length} rounds (${times(f.pssh!)} s); CPU (user+sys, ssh clients included) ${sec(cpu(f.pssh!))}`,
        `- ratio of medians ${verdict(ratio("pssh"), GOALS.psshFive)}; per round: ${roundRatios(f, "pssh")}`,
        `- what one connection and one remote shell per host buy (opskit's --json events): per host, connect + auth + shell start + the first step took median ${ms(median(first) / 1000)}; each later step on the open shell median ${ms(median(later) / 1000)} (p90 ${ms(p90 / 1000)}), while all 50 hosts ran theirs at once`,
        `- the four steps after the first cost opskit ${sec(o - wall(h.opskit!))} (median of run five minus median of exec hostname) and parallel-ssh ${sec(wall(f.pssh!) - wall(h.pssh!))} (five runs minus one): it connects again for each; sshd CPU for connections per round: opskit ${sec(median(f.opskit!.map((r) => r.sshdCpu)))}, parallel-ssh x5 ${sec(median(f.pssh!.map((r) => r.sshdCpu)))}; all CPU the machine spent per round: opskit ${sec(machine(f.opskit!))}, parallel-ssh x5 ${sec(machine(f.pssh!))}`,
        `- checks: every run exited 0; opskit: run succeeded with ${FLEET_SIZE * FIVE_STEPS.length} step results exit 0, each printing what the command prints locally; parallel-ssh: ${FLEET_SIZE} \`[SUCCESS]\` lines per command and the expected output from every host`,
        busyLine(f),
      ],
    },
    {
      name: "fleet",
      title: "F5. five steps on 50 hosts vs ansible-playbook",
      opskit: `${sec(o)} median`,
      anchor: `playbook (command) ${sec(wall(f.playbook!))}`,
      ratio: `${ratio("playbook").toFixed(2)}x faster`,
      goal: `>= ${GOALS.playbook}x faster`,
      met: ratio("playbook") >= GOALS.playbook,
      details: [
        playbookLine("playbook", "command"),
        playbookLine("playbookRaw", "raw"),
        `- ratio, opskit's median (F4) against the command playbook: ${verdict(ratio("playbook"), GOALS.playbook)}; against the raw playbook ${ratio("playbookRaw").toFixed(2)}x (no goal)`,
        `- Ansible setup: INI inventory (ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file), forks ${CONCURRENCY}, pipelining, ssh_args with ControlMaster=auto and ControlPersist=60s (${f.playbook![0]!.masters} masters after the run, closed before the next), host_key_checking with the fleet's known_hosts, gather_facts false, interpreter_python named (no discovery)`,
        `- checks: exit 0 and a recap of ok=5 failed=0 unreachable=0 for all ${FLEET_SIZE} hosts`,
      ],
    },
  ];
}

function sessionsResults(pooled: OpskitSessions, separate: OpskitSessions, pssh: HeldSessions): BenchResult[] {
  const perClient = (pssh.tree.pssBytes - pssh.tree.rootPssBytes) / FLEET_SIZE;
  const psshAt = (sessions: number) => pssh.tree.rootPssBytes + perClient * sessions;
  const psshAt500 = psshAt(SESSIONS);
  const psshLine = `- parallel-ssh for comparison, same barrier, one session on each of the ${FLEET_SIZE} hosts: ${pssh.tree.processes} processes (pssh and one ssh client per session), RSS summed ${mb(pssh.tree.rssBytes)}, PSS summed ${mb(pssh.tree.pssBytes)}: pssh itself ${mb(pssh.tree.rootPssBytes)} and ${mb(perClient)} PSS per ssh client. With ${pooled.sessions} sessions it would run ${pooled.sessions} ssh clients, about ${mb(psshAt(pooled.sessions))} PSS, and ${mb(psshAt500)} with ${SESSIONS}: extrapolated, not measured (${SESSIONS} ssh clients cost about a minute of CPU here)`;
  const held = (o: OpskitSessions) =>
    `- all open at once: ${o.sessions} sessions waiting at the barrier ${sec(o.secondsToAllOpen)} after the start; ${o.remoteShells} remote shells under ${o.sshdSessions} sshd session processes; ${o.connections} TCP connections; opskit's VmHWM then ${mb(o.vmHwmBytes)} (RSS of the process then ${mb(o.tree.rssBytes)}); run wall ${sec(o.wallSeconds)}, CPU (user+sys) ${sec(o.cpuSeconds)}; all ${o.sessions} steps exited 0`;
  const row = (title: string, o: OpskitSessions, details: string[]): BenchResult => ({
    name: "fleet",
    title,
    opskit: `${mb(o.peakRssBytes)} peak RSS`,
    anchor: `parallel-ssh ~${mb(psshAt(o.sessions))} PSS (extrapolated)`,
    ratio: `${(o.peakRssBytes / psshAt(o.sessions)).toFixed(2)}x pssh`,
    goal: "none set",
    met: undefined,
    details,
  });
  return [
    row(`F6. peak RSS, ${pooled.sessions} sessions on ${FLEET_SIZE} connections`, pooled, [
      `- opskit peak RSS: **${mb(pooled.peakRssBytes)}** (${(pooled.peakRssBytes / 2 ** 20).toFixed(1)} MiB; GNU time %M) for \`opskit exec 'name=*' --concurrency ${pooled.sessions}\` over ${pooled.sessions} targets, ${NAMES_PER_ADDRESS} names for each of the ${FLEET_SIZE} fleet addresses, whose command marks itself ready and waits on a FIFO until the runner has seen all ${pooled.sessions} waiting`,
      held(pooled),
      `- opskit keeps one connection per address and user and opens each target's remote shell as a session channel on it, at most ${NAMES_PER_ADDRESS} at once (10 channels, OpenSSH's default MaxSessions, less one kept for stopping timed-out commands), so the ${NAMES_PER_ADDRESS} names of an address share one connection: ${pooled.connections} connections for ${pooled.sessions} sessions. Ten names an address (500 sessions, as measured before the stop channel) would leave the tenth waiting for a slot, never at the barrier`,
      psshLine,
      `- the configs of F6 and F7 allow 60 s for connect and auth (\`defaults.connectTimeout\`, \`authTimeout\`): with the hosts on the controller's own 2 cores, hundreds of shells starting can hold the last connections' authentication past the default 10 s`,
    ]),
    row("F7. peak RSS, 500 sessions on 500 connections", separate, [
      `- opskit peak RSS: **${mb(separate.peakRssBytes)}** (${(separate.peakRssBytes / 2 ** 20).toFixed(1)} MiB; GNU time %M), same command and barrier over a second fleet of ${SESSIONS} sshd hosts (127.0.0.2 and up, one target each), so one connection per session; the peak falls in the connect storm, before the barrier`,
      held(separate),
      `- parallel-ssh: as in F6 (one ssh process per session, whatever the addresses); opskit/parallel-ssh ${(separate.peakRssBytes / psshAt500).toFixed(2)}x`,
    ]),
  ];
}

export async function benchFleet(): Promise<BenchResult[]> {
  const fleet = await startFleet({ size: FLEET_SIZE });
  let measured: { h: Samples; f: Samples; pooled: OpskitSessions; pssh: HeldSessions };
  try {
    measured = await onFiftyHosts(fleet);
  } finally {
    await fleet.stop();
  }
  const { h, f, pooled, pssh } = measured;
  const growth: GrowthPoint[] = [{ hosts: FLEET_SIZE, samples: { opskit: h.opskit!, pssh: h.pssh! } }];
  let separate: OpskitSessions | undefined;
  for (const size of GROWTH_SIZES) {
    const wide = await startFleet({ size });
    try {
      const setup = await prepareFleetTools(wide, `${outDir}/fleet-${size}`);
      console.log(`fleet: ${size} sshd hosts on 127.0.0.2-${wide.hosts.at(-1)!.address}:${wide.hosts[0]!.port}`);
      growth.push(await measureGrowth(wide, setup));
      if (size === SESSIONS) separate = await sessionsOnOwnConnections(wide, setup);
    } finally {
      await wide.stop();
    }
  }
  if (!separate) throw new Error(`no fleet of ${SESSIONS} hosts among ${GROWTH_SIZES.join(", ")}`);
  await Bun.write(`${outDir}/fleet-samples.json`, `${JSON.stringify({ hostname: h, five: f, growth, sessions: { pooled, separate, pssh } }, null, 2)}\n`);
  return [...hostnameResults(h), ...fiveResults(f, h), ...sessionsResults(pooled, separate, pssh), ...growthResults(growth)];
}

/** F1-F6 on the fleet of 50. */
async function onFiftyHosts(fleet: Fleet): Promise<{ h: Samples; f: Samples; pooled: OpskitSessions; pssh: HeldSessions }> {
  const setup: FleetSetup = await prepareFleetTools(fleet);
  const [host] = setup.expected;
  console.log(`fleet: ${FLEET_SIZE} sshd hosts on 127.0.0.2-${fleet.hosts.at(-1)!.address}:${fleet.hosts[0]!.port}; tool files in ${setup.dir}`);
  // Untimed warmup (page cache, Python's bytecode, Ansible's module cache); Ansible on one host, as it is slow.
  await opskitExec(setup, "hostname", host!);
  await psshCommand(setup, "hostname", host!);
  await ansibleWarmup(setup);

  const h = await rounds(
    fleet,
    "hostname",
    {
      opskit: () => opskitExec(setup, "hostname", host!),
      pssh: () => psshCommand(setup, "hostname", host!),
      raw: () => ansibleAdhoc(setup, "raw", "hostname", host!),
      command: () => ansibleAdhoc(setup, "command", "hostname", host!),
    },
    HOSTNAME_ROUNDS,
    { raw: HOSTNAME_ANSIBLE_ROUNDS, command: HOSTNAME_ANSIBLE_ROUNDS },
  );
  const f = await rounds(
    fleet,
    "five steps",
    {
      opskit: () => opskitFive(setup),
      pssh: () => psshFive(setup),
      playbook: () => ansiblePlaybook(setup, "command"),
      playbookRaw: () => ansiblePlaybook(setup, "raw"),
    },
    FIVE_ROUNDS,
    { playbook: FIVE_ANSIBLE_ROUNDS, playbookRaw: FIVE_ANSIBLE_ROUNDS },
  );
  await awaitFleetIdle(fleet);
  console.log(`fleet: opskit with ${FLEET_SIZE * NAMES_PER_ADDRESS} sessions open at once over the ${FLEET_SIZE} hosts`);
  const pooled = await measureOpskitSessions(fleet, setup.dir, setup.env, FLEET_SIZE * NAMES_PER_ADDRESS);
  console.log(`fleet: parallel-ssh with ${FLEET_SIZE} sessions open at once`);
  const pssh = await measurePsshSessions(setup);
  return { h, f, pooled, pssh };
}

/** opskit with 500 sessions on a fleet of 500 hosts: one connection each. */
async function sessionsOnOwnConnections(wide: Fleet, setup: FleetSetup): Promise<OpskitSessions> {
  await awaitFleetIdle(wide);
  console.log(`fleet: opskit with ${SESSIONS} sessions open at once over ${SESSIONS} hosts (127.0.0.2-${wide.hosts.at(-1)!.address})`);
  await awaitQuiet(QUIET_WAIT_MS);
  return measureOpskitSessions(wide, setup.dir, setup.env);
}
