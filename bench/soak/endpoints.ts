// The soak's local endpoints, in a process of their own so that their CPU is
// not counted as opskit's.
//   bun bench/soak/endpoints.ts PORTS CHECKS
// On each of PORTS loopback ports, GET /c/N answers 200 "ok", except that a
// flapping N (bench/soak/flaps.ts) answers 503 while it is down. On a control
// port, GET /stats tells the seconds since start (the schedule's origin) and
// the requests served, failed (503) and unknown (404). Prints
// {"ports":[...],"control":N} once ready; exits when its standard input
// closes, so a dying runner never leaves it behind.
import { flapSchedule } from "./flaps.ts";

const [portsArg = "4", checksArg = "2000"] = process.argv.slice(2);
const portCount = Number(portsArg);
const checks = Number(checksArg);
if (!Number.isInteger(portCount) || portCount < 1 || !Number.isInteger(checks) || checks < 1) {
  console.error("usage: bun bench/soak/endpoints.ts PORTS CHECKS");
  process.exit(64);
}

const schedule = flapSchedule(checks);
const origin = performance.now();
const stats = { served: 0, failed: 0, unknown: 0 };

function answer(request: Request): Response {
  const path = new URL(request.url).pathname;
  const check = /^\/c\/(\d+)$/.exec(path)?.[1];
  if (check === undefined || Number(check) >= checks) {
    stats.unknown++;
    return new Response("not found\n", { status: 404 });
  }
  stats.served++;
  if (schedule.isDown(Number(check), (performance.now() - origin) / 1000)) {
    stats.failed++;
    return new Response("down\n", { status: 503 });
  }
  return new Response("ok\n");
}

const servers = Array.from({ length: portCount }, () => Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: answer }));

const control = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    if (new URL(request.url).pathname !== "/stats") return new Response("not found\n", { status: 404 });
    return Response.json({ ...stats, seconds: (performance.now() - origin) / 1000 });
  },
});

console.log(JSON.stringify({ ports: servers.map((s) => s.port), control: control.port }));

// Bun.stdin.text() resolves at end of input: the runner closed our stdin or died.
await Bun.stdin.text();
process.exit(0);
