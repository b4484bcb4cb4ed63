import { expect, test } from "bun:test";
import { bypassesProxy, proxyFor, proxyRules, shownProxy } from "./proxy.ts";

test("NO_PROXY matches as curl's: the host and its subdomains, a leading dot or not, IPs, IPv4 ranges, *; never a mere suffix of a name", () => {
  const list = ["example.com", ".internal", "10.0.0.0/8", "::1", "192.168.1.5"];
  expect(bypassesProxy(list, "example.com")).toBe(true);
  expect(bypassesProxy(list, "API.Example.com")).toBe(true);
  expect(bypassesProxy(list, "notexample.com")).toBe(false);
  expect(bypassesProxy(list, "db.internal")).toBe(true);
  expect(bypassesProxy(list, "internal")).toBe(true);
  expect(bypassesProxy(list, "10.20.30.40")).toBe(true);
  expect(bypassesProxy(list, "11.0.0.1")).toBe(false);
  expect(bypassesProxy(list, "[::1]")).toBe(true);
  expect(bypassesProxy(list, "192.168.1.50")).toBe(false);
  expect(bypassesProxy(["*"], "anything")).toBe(true);
  expect(bypassesProxy([], "anything")).toBe(false);
});

test("proxies from the environment: http_proxy lower case only, https_proxy either case, all_proxy as fallback, --proxy over all of them", () => {
  const env = { HTTP_PROXY: "http://upper:3128", HTTPS_PROXY: "http://secure:3128", no_proxy: "skip.example" };
  const rules = proxyRules({}, env)!;
  expect(rules.http).toBeUndefined();
  expect(rules.https?.host).toBe("secure");
  expect(proxyFor(rules, true, "a.skip.example")).toBeUndefined();
  expect(proxyRules({}, { all_proxy: "fallback" })!.http).toMatchObject({ host: "fallback", port: 1080 });
  expect(proxyRules({ proxy: "http://cli:8080" }, env)!.http?.host).toBe("cli");
  expect(proxyRules({ proxy: "" }, env)).toBeUndefined();
  expect(proxyRules({}, {})).toBeUndefined();
});

test("a proxy URL is shown without its credentials, which become Proxy-Authorization", () => {
  expect(shownProxy("http://user:pa55word@proxy:3128")).toBe("http://proxy:3128");
  const rules = proxyRules({ proxy: "http://us%40er:p%3Ass@proxy:3128" })!;
  expect(rules.http?.authorization).toBe(`Basic ${Buffer.from("us@er:p:ss").toString("base64")}`);
  expect(rules.http?.shown).toBe("http://proxy:3128");
});
