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
    cacert: { kind: "string", value: "file", description: "the same as --ca (curl's name)" },
    cert: { kind: "string", value: "file", description: "client certificate (PEM) for servers that ask for one (mTLS); with --key" },
    key: { kind: "string", value: "file", description: "the client certificate's private key (PEM)" },
    location: { kind: "boolean", short: "L", description: "follow HTTP redirects, as curl -L; every hop is reported (redirects in --json and CEL)" },
    maxRedirs: { kind: "integer", value: "n", default: "50", min: -1, max: 100_000, description: "with -L, follow at most n redirects (-1: no limit); one more fails with E_HTTP_TOO_MANY_REDIRECTS" },
    proxy: { kind: "string", short: "x", value: "url", description: "send HTTP(S) through this proxy, http://[user:password@]host:port (default: http_proxy, https_proxy, HTTPS_PROXY, all_proxy as curl reads them; '' for none)" },
    noproxy: { kind: "string", value: "list", description: "hosts that bypass the proxy: comma-separated names (matching subdomains), IPs, CIDR ranges, or * (default: no_proxy or NO_PROXY)" },
    maxBody: { kind: "integer", value: "bytes", default: "1048576", min: 0, max: 1 << 30, description: "keep at most this many body bytes for expectations", hidden: true },
  },
  examples: [
    { text: "Check a URL answers 200", command: "opskit probe https://example.com/health --expect 'status == 200'" },
    { text: "Several kinds at once, as JSON", command: "opskit probe -o json tcp://db:5432 tls://example.com:443 dns://example.com?type=A" },
    { text: "Targets from a file, failures only", command: "opskit probe -f targets.yaml -q --retries 2" },
  ],
});

export type ProbeOptions = OptionsOf<typeof probeSpec>;
