// Cost growth of the fleet benchmark: F1's run (`opskit exec 'name=*'
// --concurrency 50 -- hostname` against `parallel-ssh -p 50 ... hostname`)
// on fleets of 200 and 500 hosts, beside F1's own 50, in the same run: the
// same command, tools and options, more hosts. opskit's peak RSS is GNU
// time's %M (opskitExec says why not Bun's); both tools' process trees are also
// sampled every 250 ms (PSS summed: parallel-ssh runs an ssh client per host
// in flight), with the connections open to the fleet.
import type { Fleet } from "../test/harness/fleet.ts";
import { CONCURRENCY, opskitExec, psshCommand, type FleetSetup } from "./fleet-tools.ts";
import { busyLine, cpu, machine, mb, ms, roundRatios, rounds, sec, times, wall, type Sample, type Samples } from "./fleet-rounds.ts";
import type { BenchResult } from "./report.ts";
import { median } from "./stats.ts";

/** The sizes past F1's 50 hosts: 4x and 10x. */
export const GROWTH_SIZES = [200, 500] as const;
const GROWTH_ROUNDS = 3;
/** Time may grow no faster than the hosts: at most 4x the 50-host time at 200, 10x at 500. */
const TIME_GOALS: Record<number, number> = { 200: 4, 500: 10 };
const RSS_GOAL_BYTES = 200e6;

export interface GrowthPoint {
  hosts: number;
  /** opskit and pssh runs, as `rounds` returns them. */
  samples: Samples;
}

/** The hostname run of both tools on `fleet`, GROWTH_ROUNDS rounds, the order alternating. */
export async function measureGrowth(fleet: Fleet, setup: FleetSetup): Promise<GrowthPoint> {
  const expected = setup.expected[0]!;
  const samples = await rounds(
    fleet,
    `hostname on ${fleet.hosts.length} hosts`,
    { opskit: () => opskitExec(setup, "hostname", expected), pssh: () => psshCommand(setup, "hostname", expected) },
    GROWTH_ROUNDS,
  );
  return { hosts: fleet.hosts.length, samples };
}

const medianOf = (runs: Sample[], pick: (s: Sample) => number) => median(runs.map(pick));
const peakRss = (runs: Sample[]) => medianOf(runs, (r) => r.maxRssBytes);
const treePss = (runs: Sample[]) => medianOf(runs, (r) => r.tree?.pssBytes ?? NaN);
const connections = (runs: Sample[]) => Math.max(...runs.map((r) => r.tree?.connections ?? NaN));

function growthTable(points: GrowthPoint[]): string[] {
  const base = points[0]!;
  const row = (p: GrowthPoint) => {
    const o = p.samples.opskit!;
    const s = p.samples.pssh!;
    const x = (runs: Sample[], baseRuns: Sample[]) => `${(wall(runs) / wall(baseRuns)).toFixed(2)}x`;
    return [
      String(p.hosts),
      `**${sec(wall(o))}** (${times(o)})`,
      x(o, base.samples.opskit!),
      ms(wall(o) / p.hosts),
      sec(cpu(o)),
      `**${mb(peakRss(o))}**`,
      String(connections(o)),
      `${sec(wall(s))} (${times(s)})`,
      x(s, base.samples.pssh!),
      `${(wall(s) / wall(o)).toFixed(2)}x`,
      mb(treePss(s)),
      ms(medianOf(o, (r) => r.sshdCpu) / p.hosts),
      `${sec(machine(o))}, ${Math.round((100 * medianOf(o, (r) => r.machineCpu / r.seconds)) / 2)}%`,
    ];
  };
  return [
    "| hosts | opskit wall, median (runs) | x of 50 | per host | opskit CPU | opskit peak RSS | opskit connections at once | parallel-ssh wall, median (runs) | x of 50 | parallel-ssh / opskit | parallel-ssh tree PSS, peak | sshd CPU per connection (opskit runs) | machine CPU in opskit runs, cores busy |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...points.map((p) => `| ${row(p).join(" | ")} |`),
  ];
}

/** F8 (time grows no faster than the hosts) and F9 (peak RSS at 500); `points` starts with F1's 50 hosts. */
export function growthResults(points: GrowthPoint[]): BenchResult[] {
  const base = points[0]!;
  const last = points.at(-1)!;
  const growth = (p: GrowthPoint) => wall(p.samples.opskit!) / wall(base.samples.opskit!);
  const judged = points.filter((p) => TIME_GOALS[p.hosts] !== undefined);
  const timeMet = judged.every((p) => growth(p) <= TIME_GOALS[p.hosts]!);
  const verdicts = judged.map((p) => `${p.hosts} hosts ${growth(p).toFixed(2)}x (goal <= ${TIME_GOALS[p.hosts]}x): ${growth(p) <= TIME_GOALS[p.hosts]! ? "met" : "NOT met"}`);
  const perHostCpu = (p: GrowthPoint) => ms(cpu(p.samples.opskit!) / p.hosts);
  const rss = peakRss(last.samples.opskit!);
  const o = (p: GrowthPoint) => p.samples.opskit!;
  return [
    {
      name: "fleet",
      title: `F8. hostname on 50, 200, 500 hosts: cost growth`,
      opskit: `${sec(wall(o(last)))} at ${last.hosts} (${growth(last).toFixed(2)}x of 50)`,
      anchor: `parallel-ssh ${sec(wall(last.samples.pssh!))} at ${last.hosts} (${(wall(last.samples.pssh!) / wall(base.samples.pssh!)).toFixed(2)}x)`,
      ratio: judged.map((p) => `${growth(p).toFixed(2)}x at ${p.hosts / base.hosts}x hosts`).join(", "),
      goal: judged.map((p) => `<= ${TIME_GOALS[p.hosts]}x`).join(", "),
      met: timeMet,
      details: [
        `- the run of F1 on more hosts, same run of the benchmark: \`opskit exec 'name=*' --concurrency ${CONCURRENCY} --json -- hostname\` against \`parallel-ssh -p ${CONCURRENCY} ... hostname\` (options as in F1) on fleets of ${points.map((p) => p.hosts).join(", ")} sshd hosts (127.0.0.2 and up, one port, ${Math.ceil(last.hosts / 16)} sshd processes of 16 addresses at ${last.hosts}); 50 hosts: F1's runs; ${GROWTH_SIZES.join(" and ")}: ${GROWTH_ROUNDS} rounds each, the order alternating`,
        "",
        ...growthTable(points),
        "",
        `- growth of opskit's median wall time against 50 hosts: ${verdicts.join("; ")}; linear would be ${points.map((p) => `${(p.hosts / base.hosts).toFixed(0)}x`).join(", ")}`,
        `- where the time goes: every host is a new connection, and sshd spends ${points.map((p) => ms(medianOf(p.samples.opskit!, (r) => r.sshdCpu) / p.hosts)).join(", ")} of CPU on each (start, key exchange, auth, session) at ${points.map((p) => p.hosts).join(", ")} hosts, on the 2 cores the tools use too; opskit's own CPU is ${points.map(perHostCpu).join(", ")} per host (its start-up included). Neither grows with the fleet, the cores are busy through every run, and so wall time follows the hosts`,
        `- pssh/opskit per round at ${last.hosts} hosts: ${roundRatios(last.samples, "pssh")}`,
        `- connections: opskit ends each host's connection when its target is done, so it holds about ${CONCURRENCY} at a time (the most seen in a sample is in the table), not one per host it went through`,
        `- checks: every run exited 0 with all hosts answering their host name (opskit: a step result with exit 0 per host; parallel-ssh: a \`[SUCCESS]\` line and the name per host)`,
        ...points.slice(1).map((p) => busyLine(p.samples).replace("- cores busy", `- ${p.hosts} hosts: cores busy`)),
      ],
    },
    {
      name: "fleet",
      title: `F9. peak RSS, hostname on ${last.hosts} hosts`,
      opskit: `${mb(rss)} peak RSS`,
      anchor: `parallel-ssh tree ${mb(treePss(last.samples.pssh!))} PSS`,
      ratio: `${(rss / RSS_GOAL_BYTES).toFixed(2)}x goal`,
      goal: `<= ${mb(RSS_GOAL_BYTES)}`,
      met: rss <= RSS_GOAL_BYTES,
      details: [
        `- opskit's peak RSS (GNU time's %M), median over the runs: ${points.map((p) => `${mb(peakRss(o(p)))} at ${p.hosts} hosts (runs: ${o(p).map((r) => (r.maxRssBytes / 1e6).toFixed(1)).join(", ")})`).join("; ")}; **${mb(rss)}** at ${last.hosts} (goal <= ${mb(RSS_GOAL_BYTES)}: ${rss <= RSS_GOAL_BYTES ? "met" : "NOT met"})`,
        `- growth from ${base.hosts} to ${last.hosts} hosts: ${mb(rss - peakRss(o(base)))} for ${last.hosts - base.hosts} more hosts, ${((rss - peakRss(o(base))) / (last.hosts - base.hosts) / 1e3).toFixed(0)} kB a host, while the connections open at once stay near ${CONCURRENCY} (${points.map((p) => connections(o(p))).join(", ")} at most in a sample)`,
        `- sampled every 250 ms, PSS summed over the process tree, median of the runs' peaks: opskit (and GNU time) ${points.map((p) => mb(treePss(o(p)))).join(", ")}; parallel-ssh (pssh and its ssh clients, up to ${CONCURRENCY} at once) ${points.map((p) => mb(treePss(p.samples.pssh!))).join(", ")} at ${points.map((p) => p.hosts).join(", ")} hosts`,
      ],
    },
  ];
}
