import { describe, expect, test } from "bun:test";
import { checkHost, checkJsonBody, hostAllowed, parseHostHeader } from "./guard.ts";

const rules = { listenHost: "127.0.0.1", port: 9797 };
const allowed = (host: string, r: Parameters<typeof hostAllowed>[1] = rules) => {
  const parsed = parseHostHeader(host);
  return parsed !== undefined && hostAllowed(parsed, r);
};

describe("Host", () => {
  test("malformed values do not parse", () => {
    for (const host of ["", "a b", "[::1", "[nothost]:1", "x:", "x:0", "x:65536", "x:1:2", "a/b", "a@b", "%41", "\u00e9.example"]) expect({ host, parsed: parseHostHeader(host) }).toEqual({ host, parsed: undefined });
    expect(parseHostHeader("[::1]:9797")).toEqual({ name: "::1", port: 9797 });
    expect(parseHostHeader("LocalHost")).toEqual({ name: "localhost", port: undefined });
  });

  test("loopback names and addresses with the bound port are this server; rebound names are not", () => {
    for (const host of ["127.0.0.1:9797", "127.8.8.8:9797", "localhost:9797", "localhost.:9797", "[::1]:9797"]) expect({ host, ok: allowed(host) }).toEqual({ host, ok: true });
    for (const host of ["127.0.0.1.nip.io:9797", "evil.example:9797", "localhost.evil.example:9797", "127.0.0.1:9798", "127.0.0.1", "10.0.0.1:9797", "[::2]:9797"]) expect({ host, ok: allowed(host) }).toEqual({ host, ok: false });
  });

  test("the listen address, any IP literal on a wildcard listen address, and server.publicUrl", () => {
    expect(allowed("10.1.2.3:9797", { listenHost: "10.1.2.3", port: 9797 })).toBe(true);
    expect(allowed("10.1.2.4:9797", { listenHost: "10.1.2.3", port: 9797 })).toBe(false);
    expect(allowed("[fe80::1]:9797", { listenHost: "fe80::1", port: 9797 })).toBe(true);
    expect(allowed("192.0.2.7:9797", { listenHost: "0.0.0.0", port: 9797 })).toBe(true);
    expect(allowed("ops.example.com:9797", { listenHost: "0.0.0.0", port: 9797 })).toBe(false);
    const publicUrl = new URL("https://ops.example.com");
    expect(allowed("ops.example.com", { ...rules, publicUrl })).toBe(true);
    expect(allowed("ops.example.com:443", { ...rules, publicUrl })).toBe(true);
    expect(allowed("ops.example.com:9797", { ...rules, publicUrl })).toBe(false);
    expect(allowed("ops.example.com:8443", { ...rules, publicUrl: new URL("http://ops.example.com:8443/opskit") })).toBe(true);
  });
});

describe("checkHost", () => {
  const get = (host?: string) => new Request("http://127.0.0.1/", { headers: host === undefined ? {} : { host } });

  test("a Host it allowed before is allowed again; what it refuses stays refused, under the same rules or others", () => {
    const own = { listenHost: "127.0.0.1", port: 9797 };
    const other = { listenHost: "127.0.0.1", port: 9798 };
    for (let i = 0; i < 3; i++) {
      expect(checkHost(get("127.0.0.1:9797"), own)).toBeUndefined();
      expect(checkHost(get("evil.example:9797"), own)?.status).toBe(421);
      expect(checkHost(get("127.0.0.1:9797"), other)?.status).toBe(421);
      expect(checkHost(get(), own)?.status).toBe(400);
      expect(checkHost(get("x:0"), own)?.status).toBe(400);
    }
    // Beyond the values it keeps, each is still judged.
    for (let n = 0; n < 40; n++) expect(checkHost(get(`127.0.0.${n + 1}:9797`), own)).toBeUndefined();
    expect(checkHost(get("127.0.0.1.nip.io:9797"), own)?.status).toBe(421);
  });
});

describe("JSON bodies", () => {
  const post = (headers: Record<string, string>, body?: string) => new Request("http://127.0.0.1/", { method: "POST", headers, ...(body === undefined ? {} : { body }) });

  test("a body must be application/json in UTF-8; a bodiless request needs no type", () => {
    expect(checkJsonBody(post({ "content-type": "application/json" }, "{}"))).toBeUndefined();
    expect(checkJsonBody(post({ "content-type": "Application/JSON; charset=UTF-8" }, "{}"))).toBeUndefined();
    expect(checkJsonBody(post({}))).toBeUndefined();
    // Asked again, a type judged JSON before still is, and one refused still is.
    for (let i = 0; i < 2; i++) {
      expect(checkJsonBody(post({ "content-type": "application/json" }, "{}"))).toBeUndefined();
      expect(checkJsonBody(post({ "content-type": "text/plain" }, "{}"))?.status).toBe(415);
    }
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "application/jsonx", "text/json"]) {
      expect({ type, status: checkJsonBody(post({ "content-type": type }, "{}"))?.status }).toEqual({ type, status: 415 });
    }
  });
});
