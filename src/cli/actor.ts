import { userInfo } from "node:os";

/**
 * Who does what the CLI asks (ack, approve, pause, a silence): --as, else
 * the local user's name (os.userInfo, which reads the password database;
 * $USER when there is none, as in a container started with an unknown uid),
 * else "cli". With a shared token, the server records what the caller says.
 */
export function actorName(given?: string): string {
  if (given !== undefined && given.trim() !== "") return given.trim();
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // No entry for this uid.
  }
  return process.env.USER || "cli";
}
