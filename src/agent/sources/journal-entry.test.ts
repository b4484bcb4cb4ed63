import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fieldText, journalEvent } from "./journal-entry.ts";

describe("journal entries", () => {
  test("a field is a string, an array of bytes (decoded as UTF-8), or several of those (joined by newlines)", () => {
    expect(fieldText("plain")).toBe("plain");
    expect(fieldText([104, 105, 0xff])).toBe("hi\uFFFD");
    expect(fieldText(["one", [116, 119, 111]])).toBe("one\ntwo");
    expect(fieldText(null)).toBeUndefined();
    expect(fieldText(undefined)).toBeUndefined();
  });

  test("byte arrays decode as Buffer does (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(fieldText([...bytes])).toBe(Buffer.from(bytes).toString("utf8"));
      }),
    );
  });

  test("an entry becomes a log event: pid and comm on the event, unit, priority and identifier in fields, the entry's time in ms", () => {
    const { event, cursor } = journalEvent({ __CURSOR: "s=1;i=2", __REALTIME_TIMESTAMP: "1700000000123999", _PID: "42", _COMM: "sshd", _SYSTEMD_UNIT: "ssh.service", PRIORITY: "4", SYSLOG_IDENTIFIER: "sshd", MESSAGE: "hello" }, "auth", 1024);
    expect(cursor).toBe("s=1;i=2");
    expect(event).toEqual({ source: "auth", kind: "log", time: 1700000000123, pid: 42, comm: "sshd", message: "hello", fields: { unit: "ssh.service", priority: 4, identifier: "sshd" } });
  });

  test("missing fields are left out; a pid that is not a number is not one", () => {
    const before = Date.now();
    const { event, cursor } = journalEvent({ MESSAGE: [0x61], _PID: "x1" }, "s", 1024);
    expect(cursor).toBeUndefined();
    expect(event.pid).toBeUndefined();
    expect(event.message).toBe("a");
    expect(event.fields).toEqual({});
    expect(event.time).toBeGreaterThanOrEqual(before);
  });

  test("a message past maxBytes is cut on a character boundary and marked", () => {
    const { event } = journalEvent({ MESSAGE: "é".repeat(400) }, "s", 301);
    expect(event.fields.truncated).toBe(true);
    expect(event.message).toBe("é".repeat(150));
  });

  test("the cut message is the longest prefix of whole characters within maxBytes (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), fc.integer({ min: 1, max: 300 }), (text, maxBytes) => {
        const { event } = journalEvent({ MESSAGE: text }, "s", maxBytes);
        const message = event.message!;
        expect(text.startsWith(message)).toBe(true);
        expect(Boolean(event.fields.truncated)).toBe(Buffer.byteLength(text) > maxBytes);
        if (!event.fields.truncated) expect(message).toBe(text);
        else {
          expect(Buffer.byteLength(message)).toBeLessThanOrEqual(maxBytes);
          const next = [...text.slice(message.length)][0]!;
          expect(Buffer.byteLength(message + next)).toBeGreaterThan(maxBytes);
        }
      }),
    );
  });
});
