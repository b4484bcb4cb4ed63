// Every protocol opskit can probe, one line each: adding one is a new file
// and a line here. Export only probers from this file (see probers.ts).
export { dnsProber } from "./dns.ts";
export { etcdProber } from "./etcd.ts";
export { grpcProber } from "./grpc.ts";
export { httpProber } from "./http.ts";
export { promqlProber } from "./promql.ts";
export { smtpProber } from "./smtp.ts";
export { sshProber } from "./ssh.ts";
export { tcpProber } from "./tcp.ts";
export { tlsProber } from "./tls.ts";
