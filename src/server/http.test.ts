import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { bearerMatches, isLoopback, json, pathOf } from "./http.ts";

describe("isLoopback", () => {
  test("an IPv4 address is loopback exactly when its first octet is 127", () => {
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        expect(isLoopback(address)).toBe(address.split(".")[0] === "127");
        expect(isLoopback(`::ffff:${address}`)).toBe(address.split(".")[0] === "127");
      }),
    );
  });

  test("names are never loopback, however they start", () => {
    fc.assert(fc.property(fc.ipV4(), fc.domain(), (address, domain) => expect(isLoopback(`${address}.${domain}`)).toBe(false)));
    for (const name of ["127.0.0.1.nip.io", "127.evil.example", "localhost", "::1.example", "127.1", ""]) expect(isLoopback(name)).toBe(false);
  });

  test("IPv6 loopback in any spelling, and nothing else of IPv6", () => {
    for (const address of ["::1", "0:0:0:0:0:0:0:1", "::ffff:7f00:1", "::ffff:127.9.9.9"]) expect(isLoopback(address)).toBe(true);
    for (const address of ["::", "::2", "fe80::1", "::ffff:128.0.0.1", "2001:db8::1"]) expect(isLoopback(address)).toBe(false);
  });
});

describe("bearerMatches", () => {
  const request = (authorization?: string) => new Request("http://127.0.0.1/", authorization === undefined ? {} : { headers: { authorization } });

  test("only the whole token matches, whatever the lengths", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((s) => /^\S+$/.test(s)), fc.string({ minLength: 1 }).filter((s) => /^\S+$/.test(s)), (token, given) => {
        expect(bearerMatches(request(`Bearer ${given}`), token)).toBe(given === token);
      }),
    );
    expect(bearerMatches(request("bearer abc"), "abc")).toBe(true);
    expect(bearerMatches(request(), "abc")).toBe(false);
    expect(bearerMatches(request("Basic abc"), "abc")).toBe(false);
    expect(bearerMatches(request("Bearer "), "")).toBe(false);
    expect(bearerMatches(request("Bearer my secret "), "my secret")).toBe(true);
  });
});

describe("pathOf", () => {
  test("gives the path URL parsing gives, for any request URL", () => {
    const segment = fc.stringMatching(/^[\w.%~!$&'()*+,;=:@-]{0,6}$/);
    const path = fc.array(fc.oneof(segment, fc.constantFrom("", ".", "..", "%2e", "%7E", "é", " ")), { maxLength: 5 }).map((parts) => `/${parts.join("/")}`);
    const query = fc.option(fc.stringMatching(/^[\w=&/?.]{0,8}$/), { nil: undefined });
    const host = fc.constantFrom("127.0.0.1:8080", "[::1]:9", "localhost", "example.com:80");
    fc.assert(
      fc.property(host, path, query, (h, p, q) => {
        const url = `http://${h}${p}${q === undefined ? "" : `?${q}`}`;
        expect(pathOf(url)).toBe(new URL(url).pathname);
      }),
    );
    expect(pathOf("http://127.0.0.1:8080/api/v1/alerts/alertmanager?x=1")).toBe("/api/v1/alerts/alertmanager");
    expect(pathOf("http://127.0.0.1:8080/api/v1/../v1/incidents")).toBe("/api/v1/incidents");
  });
});

describe("json", () => {
  test("bigints (CEL's integers) are written as numbers, at any depth", async () => {
    const response = json({ a: 1n, b: [{ c: 2n }], d: "x" }, 201);
    expect(response.status).toBe(201);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.text()).toBe('{"a":1,"b":[{"c":2}],"d":"x"}');
    expect(await json({ status: "accepted", notification: 7 }).text()).toBe('{"status":"accepted","notification":7}');
  });
});
