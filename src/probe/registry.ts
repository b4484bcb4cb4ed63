import { dnsProber } from "./dns.ts";
import { grpcProber } from "./grpc.ts";
import { httpProber } from "./http.ts";
import { sshProber } from "./ssh.ts";
import { tcpProber } from "./tcp.ts";
import { tlsProber } from "./tls.ts";
import type { Prober } from "./types.ts";

/** Every protocol opskit can probe. Adding one is a new file and a line here. */
export const probers: readonly Prober[] = [httpProber, tcpProber, tlsProber, sshProber, dnsProber, grpcProber];
