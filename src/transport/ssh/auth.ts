import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware, NextAuthHandler, ParsedKey } from "ssh2";
import type { OpsError } from "../../errors.ts";
import { keyFileError } from "./errors.ts";
import type { Ssh2 } from "./ssh2.ts";
import type { SshEndpoint } from "./types.ts";

type Identity = { path: string; key: ParsedKey } | { path: string; encrypted: true } | { path: string; error: OpsError };

export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? homedir() + path.slice(1) : path;
}

/** Identity files read and parsed once per pool, however many hosts use them. */
export class IdentityCache {
  private readonly loaded = new Map<string, Promise<Identity>>();

  constructor(private readonly ssh2: Ssh2) {}

  load(path: string): Promise<Identity> {
    const full = expandHome(path);
    let identity = this.loaded.get(full);
    if (!identity) {
      identity = this.read(full);
      this.loaded.set(full, identity);
    }
    return identity;
  }

  private async read(path: string): Promise<Identity> {
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "cannot be read (permission denied)" : `cannot be read (${code ?? String(error)})`;
      return { path, error: keyFileError(path, why, "fix the key path in the inventory, or generate a key with ssh-keygen -t ed25519", error) };
    }
    const parsed = this.ssh2.utils.parseKey(data);
    if (parsed instanceof Error) {
      if (/encrypted|passphrase/i.test(parsed.message)) return { path, encrypted: true };
      return { path, error: keyFileError(path, `is not a private key opskit can read (${parsed.message})`, "give the private key file, not the .pub; OpenSSH, PEM and PuTTY formats are read", parsed) };
    }
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || !key.isPrivateKey()) {
      return { path, error: keyFileError(path, "holds a public key, not a private one", "give the private key file (without .pub)") };
    }
    return { path, key };
  }
}

export interface AuthPlan {
  handler: AuthHandlerMiddleware;
  /** What was offered, for the E_SSH_AUTH message. */
  tried: string[];
  /** The methods the server said it accepts, once it has refused one. */
  serverMethods(): string[] | undefined;
}

/**
 * The keys to offer, in order, then the agent. An encrypted key file is an
 * error unless the agent is in use (where its key usually lives unlocked);
 * ssh2 cannot prompt for a passphrase.
 */
export async function planAuth(endpoint: SshEndpoint, identities: IdentityCache, agent: string | undefined, onTry?: (label: string, refused: { label: string; methodsLeft: string[] } | undefined) => void): Promise<AuthPlan> {
  const agentSocket = endpoint.useAgent && agent ? agent : undefined;
  const methods: AnyAuthMethod[] = [];
  const labels: string[] = [];
  const skipped: string[] = [];
  for (const path of endpoint.identityFiles) {
    const identity = await identities.load(path);
    if ("error" in identity) throw identity.error;
    if ("encrypted" in identity) {
      if (!agentSocket) {
        throw keyFileError(
          identity.path,
          "is encrypted with a passphrase, which opskit cannot ask for",
          `load it into ssh-agent (ssh-add ${identity.path}) and run with SSH_AUTH_SOCK set, or use a key without a passphrase`,
        );
      }
      skipped.push(`${identity.path} (encrypted: left to the agent)`);
      continue;
    }
    methods.push({ type: "publickey", username: endpoint.user, key: identity.key });
    labels.push(`key ${identity.path}`);
  }
  if (agentSocket) {
    methods.push({ type: "agent", username: endpoint.user, agent: agentSocket });
    labels.push(`ssh-agent (${agentSocket})`);
  }
  const tried: string[] = [...skipped];
  let serverMethods: string[] | undefined;
  let next = 0;
  // ssh2 passes null for methodsLeft on the first call, despite its typings.
  const handler: AuthHandlerMiddleware = (methodsLeft: AuthenticationType[] | null, _partial: boolean | null, callback: NextAuthHandler) => {
    if (Array.isArray(methodsLeft)) serverMethods = methodsLeft.map(String);
    // Called again after a method was tried: the server refused it.
    const last = tried.at(-1);
    const refused = last !== undefined && serverMethods && !last.startsWith("(") ? { label: last, methodsLeft: serverMethods } : undefined;
    // Skip what the server said it will not take (e.g. publickey disabled).
    while (next < methods.length) {
      const method = methods[next]!;
      const label = labels[next]!;
      next += 1;
      const wire = method.type === "agent" ? "publickey" : method.type;
      if (serverMethods && !serverMethods.includes(wire)) continue;
      tried.push(label);
      onTry?.(label, refused);
      callback(method);
      return;
    }
    if (refused) onTry?.("", refused);
    // false ends authentication; the typings do not list it.
    callback(false as unknown as AuthenticationType);
  };
  return { handler, tried, serverMethods: () => serverMethods };
}
