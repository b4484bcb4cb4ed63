/*
 * A process that writes numbered log lines the way a daemon does: through a
 * descriptor opened for append, reopened on SIGHUP (what logrotate's create
 * mode asks of it in postrotate). Run as
 *   bun test/harness/log-writer.ts PATH COUNT BATCH INTERVAL_MS [PREFIX]
 * it writes lines PREFIX 1..COUNT, BATCH lines per write(2) every INTERVAL_MS,
 * so a SIGSTOP between two writes leaves only whole lines in the file.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { writerLine } from "./logs.ts";

const [path, countText, batchText, intervalText, prefix = "line"] = process.argv.slice(2);
if (!path || !countText || !batchText || !intervalText) {
  console.error("usage: log-writer.ts PATH COUNT BATCH INTERVAL_MS [PREFIX]");
  process.exit(64);
}
const count = Number(countText);
const batch = Number(batchText);
const intervalMs = Number(intervalText);

let fd = openSync(path, "a");
let reopen = false;
process.on("SIGHUP", () => {
  reopen = true;
});

let next = 1;
while (next <= count) {
  if (reopen) {
    reopen = false;
    closeSync(fd);
    fd = openSync(path, "a");
  }
  const lines: string[] = [];
  for (let i = 0; i < batch && next <= count; i++) lines.push(writerLine(prefix, next++));
  writeSync(fd, `${lines.join("\n")}\n`);
  await Bun.sleep(intervalMs);
}
closeSync(fd);
