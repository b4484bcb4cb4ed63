// A real gRPC server for the grpc:// probe tests, run under Node (not Bun) so
// the probe is checked against the reference grpc-js implementation rather
// than against Bun's own HTTP/2 stack on both ends.
//
//   node grpc-health-server.mjs            standard grpc.health.v1 service:
//                                          "" SERVING, "api" SERVING, "db" NOT_SERVING
//   node grpc-health-server.mjs --no-health  a gRPC server with no health service
//   add --tls CERT KEY to serve over TLS instead of h2c.
//
// Listens on 127.0.0.1 on a free port and prints "port N" once listening;
// exits when stdin closes, so it never outlives the test that started it.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js");
const { HealthImplementation } = require("grpc-health-check");

const args = process.argv.slice(2);
const server = new grpc.Server();
if (!args.includes("--no-health")) {
  new HealthImplementation({ "": "SERVING", api: "SERVING", db: "NOT_SERVING" }).addToServer(server);
}

const tlsAt = args.indexOf("--tls");
const credentials =
  tlsAt >= 0
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(args[tlsAt + 1]), private_key: readFileSync(args[tlsAt + 2]) }], false)
    : grpc.ServerCredentials.createInsecure();

server.bindAsync("127.0.0.1:0", credentials, (error, port) => {
  if (error) {
    console.error(`grpc-health-server: ${error.message}`);
    process.exit(1);
  }
  process.stdout.write(`port ${port}\n`);
});

const stop = () => server.tryShutdown(() => process.exit(0));
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", () => {
  server.forceShutdown();
  process.exit(0);
});
