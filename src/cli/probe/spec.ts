import { defineCommand, type OptionsOf } from "../options.ts";
import { outputOption } from "../output-format.ts";

export const probeSpec = defineCommand({
  name: "probe",
  description: "probe HTTP(S), TCP, TLS, DNS, gRPC, SSH and SMTP targets, and PromQL queries; exit 0 healthy, 1 unreachable, 2 unhealthy",
  argument: {
    name: "[targets...]",
    description: "URLs: http(s)://, tcp://host:port, tls://host:port, dns://name?type=A&server=IP:PORT, grpc://host:port/service, ssh://host:port, smtp(s)://host:port, promql+http(s)://host:port/?query=EXPR[&range=5m]",
  },
  options: {
    file: { kind: "string", short: "f", value: "file", description: "read targets from a file: one per line, or YAML with per-target expectations and labels ('-' for stdin)" },
    timeout: { kind: "duration", value: "duration", default: "5s", description: "per-attempt timeout" },
    retries: { kind: "integer", value: "n", default: "0", min: 0, max: 100, description: "retry a failed probe up to n more times; every attempt is reported" },
    retryDelay: { kind: "duration", value: "duration", default: "1s", description: "pause between attempts" },
    expect: { kind: "list", short: "e", value: "expr", description: "CEL expression that must hold, e.g. 'status == 200' (repeatable)" },
    concurrency: { kind: "integer", value: "n", default: "64", min: 1, max: 100_000, description: "probes in flight at once" },
    workers: { kind: "integer", value: "n|auto", default: "auto", min: 1, max: 64, or: "auto", description: "threads that share the probes, this one included (auto: one per core, from 2,000 targets)" },
    method: { kind: "string", short: "X", value: "method", default: "GET", description: "HTTP method" },
    header: { kind: "list", short: "H", value: "header", description: "HTTP request header 'Name: value' (repeatable)" },
    json: { kind: "boolean", description: "one JSON object per target, then a summary object" },
    ...outputOption,
    junit: { kind: "string", value: "file", description: "also write a JUnit XML report" },
    quiet: { kind: "boolean", short: "q", description: "print only failures and the summary" },
    insecure: { kind: "boolean", short: "k", description: "do not verify TLS certificates (expiry is still reported)" },
    ca: { kind: "string", value: "file", description: "trust the CA certificates in this PEM file" },
    maxBody: { kind: "integer", value: "bytes", default: "1048576", min: 0, max: 1 << 30, description: "keep at most this many body bytes for expectations", hidden: true },
  },
  examples: [
    { text: "Check a URL answers 200", command: "opskit probe https://example.com/health --expect 'status == 200'" },
    { text: "Several kinds at once, as JSON", command: "opskit probe -o json tcp://db:5432 tls://example.com:443 dns://example.com?type=A" },
    { text: "Targets from a file, failures only", command: "opskit probe -f targets.yaml -q --retries 2" },
  ],
});

export type ProbeOptions = OptionsOf<typeof probeSpec>;
