import type { CommandSpec } from "../options.ts";

export const probeSpec: CommandSpec = {
  name: "probe",
  description: "probe HTTP(S), TCP, TLS, DNS, gRPC and SSH targets; exit 0 healthy, 1 unreachable, 2 unhealthy",
  argument: {
    name: "[targets...]",
    description: "URLs: http(s)://, tcp://host:port, tls://host:port, dns://name?type=A&server=IP:PORT, grpc://host:port/service, ssh://host:port",
  },
  options: [
    { key: "file", long: "file", short: "f", value: "file", description: "read targets from a file: one per line, or YAML with per-target expectations and labels ('-' for stdin)" },
    { key: "timeout", long: "timeout", value: "duration", default: "5s", description: "per-attempt timeout" },
    { key: "retries", long: "retries", value: "n", default: "0", description: "retry a failed probe up to n more times; every attempt is reported" },
    { key: "retryDelay", long: "retry-delay", value: "duration", default: "1s", description: "pause between attempts" },
    { key: "expect", long: "expect", short: "e", value: "expr", repeatable: true, description: "CEL expression that must hold, e.g. 'status == 200' (repeatable)" },
    { key: "concurrency", long: "concurrency", value: "n", default: "64", description: "probes in flight at once" },
    { key: "workers", long: "workers", value: "n|auto", default: "auto", description: "threads that share the probes (auto: one per core but one, from 2,000 targets)" },
    { key: "method", long: "method", short: "X", value: "method", default: "GET", description: "HTTP method" },
    { key: "header", long: "header", short: "H", value: "header", repeatable: true, description: "HTTP request header 'Name: value' (repeatable)" },
    { key: "json", long: "json", description: "one JSON object per target, then a summary object" },
    { key: "junit", long: "junit", value: "file", description: "also write a JUnit XML report" },
    { key: "quiet", long: "quiet", short: "q", description: "print only failures and the summary" },
    { key: "insecure", long: "insecure", short: "k", description: "do not verify TLS certificates (expiry is still reported)" },
    { key: "ca", long: "ca", value: "file", description: "trust the CA certificates in this PEM file" },
    { key: "maxBody", long: "max-body", value: "bytes", default: "1048576", description: "keep at most this many body bytes for expectations", hidden: true },
  ],
};
