// The HTTP endpoints the benchmarks probe, in a process of their own so that
// their CPU time is counted apart from the prober's. Both sides of a benchmark
// (opskit and its anchor) probe the same endpoints of the same process.
//   bun bench/target-server.ts PORTS [DELAY_MS]
// On each of PORTS loopback ports chosen by the kernel, GET /ok answers 200
// "ok" at once and GET /slow answers 200 after DELAY_MS. On a control port,
// GET /stats tells the requests served and the most ever in flight at once
// (GET /reset zeroes them). Prints {"ports":[...],"control":N} once ready.
// Exits when its standard input closes, so a dying runner never leaves it behind.

export {}; // a module, for the top-level await below

const [portsArg = "1", delayArg = "5000"] = process.argv.slice(2);
const portCount = Number(portsArg);
const delayMs = Number(delayArg);
if (!Number.isInteger(portCount) || portCount < 1 || !(delayMs >= 0)) {
  console.error("usage: bun bench/target-server.ts PORTS [DELAY_MS]");
  process.exit(64);
}

const stats = { served: 0, inFlight: 0, maxInFlight: 0 };

function answerAtOnce(): Response {
  stats.served++;
  return new Response("ok\n");
}

async function answerSlowly(): Promise<Response> {
  stats.inFlight++;
  if (stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight;
  await Bun.sleep(delayMs);
  stats.inFlight--;
  stats.served++;
  return new Response("slow ok\n");
}

const servers = Array.from({ length: portCount }, () =>
  Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // The slow endpoint holds a connection open for DELAY_MS without a byte;
    // Bun's default 10 s idle timeout must not cut it.
    idleTimeout: 0,
    routes: { "/ok": answerAtOnce, "/slow": answerSlowly },
    fetch() {
      return new Response("not found\n", { status: 404 });
    },
  }),
);

const control = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  routes: {
    "/stats": () => Response.json(stats),
    "/reset": () => {
      stats.served = 0;
      stats.maxInFlight = stats.inFlight;
      return Response.json(stats);
    },
  },
  fetch() {
    return new Response("not found\n", { status: 404 });
  },
});

console.log(JSON.stringify({ ports: servers.map((s) => s.port), control: control.port }));

// Bun.stdin.text() resolves at end of input: the runner closed our stdin or died.
await Bun.stdin.text();
process.exit(0);
