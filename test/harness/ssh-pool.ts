import { SshPool, type SshEndpoint, type SshPoolOptions } from "../../src/transport/ssh/index.ts";
import type { Fleet, FleetHost } from "./fleet.ts";

// The client side of test/harness/fleet.ts: opskit's own SSH pool, set up to
// reach a test fleet the way every SSH test does.

/**
 * A pool that checks host keys strictly against the fleet's pre-filled
 * known_hosts, and never asks the developer's ssh-agent (agentSocket "").
 */
export function fleetPool(fleet: Fleet, options: Partial<SshPoolOptions> = {}): SshPool {
  return new SshPool({ knownHostsFile: fleet.knownHostsFile, hostKeyChecking: "strict", connectTimeoutMs: 5_000, authTimeoutMs: 5_000, agentSocket: "", ...options });
}

/** One fleet host, logged in as the fleet's test user with the fleet's key, without an agent. */
export function fleetEndpoint(fleet: Fleet, host: FleetHost, overrides: Partial<SshEndpoint> = {}): SshEndpoint {
  return { name: host.name, host: host.address, port: host.port, user: fleet.user, identityFiles: [fleet.identityFile], useAgent: false, ...overrides };
}
