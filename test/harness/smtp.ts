import type { Socket } from "bun";
import { createServer } from "node:net";

const AIOSMTPD = "/usr/bin/aiosmtpd";

export interface TestSmtpServer {
  port: number;
  /** The command lines the server received, in order (scripted servers only). */
  commands: string[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True once something on the port sends a 220 greeting (over TLS when asked). */
async function greets(port: number, tls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 500);
    const done = (ok: boolean, socket?: Socket<undefined>) => {
      clearTimeout(timer);
      socket?.end();
      resolve(ok);
    };
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      tls: tls ? { rejectUnauthorized: false } : undefined,
      socket: { data: (socket, chunk) => done(Buffer.from(chunk).toString().startsWith("220"), socket), error: () => done(false), connectError: () => done(false) },
    }).catch(() => done(false));
  });
}

/**
 * Debian's aiosmtpd (python3-aiosmtpd, an RFC 5321 server) in the foreground
 * on loopback; with `smtps`, it speaks implicit TLS with that certificate. It
 * is the real server: a missing aiosmtpd is an error, never a skip.
 */
export async function startAiosmtpd(smtps?: { cert: string; key: string }): Promise<TestSmtpServer> {
  if (!(await Bun.file(AIOSMTPD).exists())) throw new Error(`${AIOSMTPD} not found: install python3-aiosmtpd (sh scripts/setup.sh does)`);
  const port = await freePort();
  const tlsArgs = smtps ? ["--smtpscert", smtps.cert, "--smtpskey", smtps.key] : [];
  const child = Bun.spawn([AIOSMTPD, "-n", "-l", `127.0.0.1:${port}`, ...tlsArgs], { stdout: "ignore", stderr: "pipe" });
  const log = new Response(child.stderr).text();
  const deadline = Date.now() + 15_000;
  while (!(await greets(port, smtps !== undefined))) {
    if (child.exitCode !== null) throw new Error(`aiosmtpd exited with ${child.exitCode}: ${await log}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`aiosmtpd did not greet on 127.0.0.1:${port} within 15s: ${await log}`);
    }
    await Bun.sleep(50);
  }
  return {
    port,
    commands: [],
    stop: async () => {
      child.kill();
      await child.exited;
    },
  };
}

export interface SmtpScript {
  /** Written on connect, one write per element (a reply cut into pieces), 5 ms apart. */
  greeting: string[];
  /** The reply to EHLO; undefined: never answer it. */
  ehlo?: string;
}

/**
 * A scripted SMTP peer for what a real server will not do: garbage, replies
 * cut across writes, refusals. It records every command line it receives and
 * answers QUIT with 221.
 */
export async function startScriptedSmtp(script: SmtpScript): Promise<TestSmtpServer> {
  const commands: string[] = [];
  const sockets = new Set<Socket<{ text: string }>>();
  const listener = Bun.listen<{ text: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async open(socket) {
        socket.data = { text: "" };
        sockets.add(socket);
        for (const [i, piece] of script.greeting.entries()) {
          if (i > 0) await Bun.sleep(5);
          socket.write(piece);
        }
      },
      data(socket, chunk) {
        socket.data.text += Buffer.from(chunk).toString("latin1");
        let end: number;
        while ((end = socket.data.text.indexOf("\r\n")) >= 0) {
          const line = socket.data.text.slice(0, end);
          socket.data.text = socket.data.text.slice(end + 2);
          commands.push(line);
          const verb = line.split(" ")[0]!.toUpperCase();
          if (verb === "QUIT") {
            socket.write("221 2.0.0 bye\r\n");
            socket.end();
          } else if (verb === "EHLO" && script.ehlo !== undefined) socket.write(script.ehlo);
        }
      },
      close(socket) {
        sockets.delete(socket);
      },
      error() {},
    },
  });
  return {
    port: listener.port,
    commands,
    stop: async () => {
      for (const socket of sockets) socket.terminate();
      listener.stop(true);
    },
  };
}
