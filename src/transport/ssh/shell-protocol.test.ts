import { describe, expect, test } from "bun:test";
import { shellQuote } from "../../expr/index.ts";
import { newMarkers, printfOperand, RunFrame, runScript } from "./shell-protocol.ts";

function frameOf(withStatus: boolean) {
  const markers = newMarkers();
  const received: Buffer[] = [];
  let doneCalls = 0;
  const frame = new RunFrame(markers, withStatus, (chunk) => received.push(Buffer.from(chunk)), () => doneCalls++);
  return { markers, frame, text: () => Buffer.concat(received).toString(), doneCalls: () => doneCalls };
}

describe("RunFrame", () => {
  test("passes on exactly the bytes between the markers and reads the status, fed one byte at a time", () => {
    const { markers, frame, text, doneCalls } = frameOf(true);
    const stream = Buffer.from(`banner noise${markers.start}hello\nworld${markers.end}42.late output`);
    for (const byte of stream) frame.push(Buffer.from([byte]));
    expect(text()).toBe("hello\nworld");
    expect(frame.status).toBe(42);
    expect(frame.done).toBe(true);
    expect(doneCalls()).toBe(1);
  });

  test("ignores markers of other runs and partial markers in the output", () => {
    const { markers, frame, text } = frameOf(false);
    const other = newMarkers();
    const body = `${other.end}0.${markers.end.slice(0, -1)}x${markers.start}`;
    frame.push(Buffer.from(`${markers.start}${body}`));
    expect(frame.done).toBe(false);
    frame.push(Buffer.from(markers.end));
    expect(text()).toBe(body);
    expect(frame.done).toBe(true);
  });

  test("an empty run and a frame in one chunk complete at once", () => {
    const { markers, frame, text, doneCalls } = frameOf(true);
    frame.push(Buffer.from(`${markers.start}${markers.end}0.`));
    expect(text()).toBe("");
    expect(frame.status).toBe(0);
    frame.push(Buffer.from("more"));
    expect(doneCalls()).toBe(1);
  });
});

describe("runScript", () => {
  test("markers are fresh per run", () => {
    expect(newMarkers().start).not.toBe(newMarkers().start);
  });

  test("quotes the command for the driver and never puts the markers inside the command", () => {
    const markers = newMarkers();
    const script = runScript(markers, "echo 'a' $HOME", undefined);
    expect(script).toContain(`( eval ${shellQuote("echo 'a' $HOME")} ) </dev/null`);
    const line = script.split("\n").find((l) => l.includes("eval"))!;
    expect(line).not.toContain(markers.start);
    expect(line).not.toContain(markers.end);
  });
});

describe("printfOperand", () => {
  test("reproduces every byte value through the local /bin/sh's printf %b", () => {
    const bytes = new Uint8Array(512);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 256;
    // A digit right after an escape must stay a digit.
    bytes.set([0, 0x35, 0x27, 0x30, 0x5c, 0x30], 300);
    const shell = Bun.spawnSync(["/bin/sh", "-c", `printf '%b' ${printfOperand(bytes)}`]);
    expect(shell.success).toBe(true);
    expect(Buffer.from(shell.stdout).equals(Buffer.from(bytes))).toBe(true);
  });
});
