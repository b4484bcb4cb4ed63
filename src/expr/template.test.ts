import { describe, expect, test } from "bun:test";
import { compileTemplate } from "./index.ts";

const names = ["vars", "target"];

describe("templates", () => {
  test("text without {{ }} renders unchanged", async () => {
    const t = await compileTemplate("systemctl restart api", "step", names);
    expect(t.constant).toBe(true);
    expect(t.render({}, "shell")).toBe("systemctl restart api");
  });

  test("a shell value travels as a variable the command references; the shown form quotes it in place", async () => {
    const t = await compileTemplate("echo {{ vars.msg }} > /tmp/x", "step", names, "shell");
    const hostile = "$(rm -rf /); `id` 'quoted' \"double\"\nnext line";
    const rendered = t.renderShell({ vars: { msg: hostile } });
    expect(rendered.command).toBe(`OPSKIT_V1='$(rm -rf /); \`id\` '\\''quoted'\\'' "double"\nnext line'; echo "\${OPSKIT_V1}" > /tmp/x`);
    expect(rendered.shown).toBe(`echo '$(rm -rf /); \`id\` '\\''quoted'\\'' "double"\nnext line' > /tmp/x`);
    // The shell itself must read the value back byte for byte.
    const echo = Bun.spawnSync(["sh", "-c", t.renderShell({ vars: { msg: hostile } }).command.replace(" > /tmp/x", "")]);
    expect(echo.stdout.toString()).toBe(`${hostile}\n`);
  });

  test("the same expression twice is carried by one variable", async () => {
    const t = await compileTemplate("printf '%s %s' {{ vars.v }} \"{{ vars.v }}\"", "step", names, "shell");
    expect(t.renderShell({ vars: { v: "x" } }).command).toBe(`OPSKIT_V1='x'; printf '%s %s' "\${OPSKIT_V1}" "\${OPSKIT_V1}"`);
  });

  test("a selector value is literal: globs, commas and operators are escaped", async () => {
    const t = await compileTemplate("name={{ vars.host }}", "rule.targets", names);
    expect(t.render({ vars: { host: "*" } }, "selector")).toBe("name=\\*");
    expect(t.render({ vars: { host: "a,role=db" } }, "selector")).toBe("name=a\\,role\\=db");
  });

  test("a JSON body: a value inside a string is escaped for it, one outside is a JSON value", async () => {
    const t = await compileTemplate('{"host": "{{ vars.h }}", "n": {{ vars.n }}, "s": {{ vars.h }}}', "http.body", names);
    const body = t.render({ vars: { h: 'x", "admin": true, "y": "\\', n: 3n } }, "json");
    expect(JSON.parse(body)).toEqual({ host: 'x", "admin": true, "y": "\\', n: 3, s: 'x", "admin": true, "y": "\\' });
  });

  test("a header value with a line break is refused, not sent", async () => {
    const t = await compileTemplate("Bearer {{ vars.t }}", "http.headers.Authorization", names);
    expect(() => t.render({ vars: { t: "x\r\nX-Admin: 1" } }, "header")).toThrow(expect.objectContaining({ code: "E_TEMPLATE_VALUE" }));
    expect(t.render({ vars: { t: "abc" } }, "header")).toBe("Bearer abc");
  });

  test("a URL path value cannot climb with .. nor carry a pre-encoded one", async () => {
    const t = await compileTemplate("http://h/api/{{ vars.p }}/status", "http.url", names);
    expect(() => t.render({ vars: { p: "../admin" } }, "url")).toThrow(expect.objectContaining({ code: "E_TEMPLATE_VALUE" }));
    expect(t.render({ vars: { p: "%2e%2e" } }, "url")).toBe("http://h/api/%252e%252e/status");
    expect(new URL(t.render({ vars: { p: "a b?c#d" } }, "url")).pathname).toBe("/api/a%20b%3Fc%23d/status");
  });

  test("a form body percent-encodes values so they cannot add a field", async () => {
    const t = await compileTemplate("user={{ vars.u }}&role=viewer", "http.body", names);
    expect(new URLSearchParams(t.render({ vars: { u: "x&role=admin" } }, "form")).getAll("role")).toEqual(["viewer"]);
  });

  test("url context encodes by URL part: host, path (slashes kept), query value", async () => {
    const t = await compileTemplate("http://{{ target.address }}:8080{{ vars.path }}/x?v={{ vars.v }}", "step", names);
    const rendered = t.render({ target: { address: "10.0.0.1" }, vars: { path: "/health z?", v: "a b&c=d/e" } }, "url");
    expect(rendered).toBe("http://10.0.0.1:8080/health%20z%3F/x?v=a%20b%26c%3Dd%2Fe");
    const host = await compileTemplate("http://{{ vars.h }}/", "step", names);
    expect(host.render({ vars: { h: "evil.example/@x" } }, "url")).toBe("http://evil.example%2F%40x/");
  });

  test("numbers, booleans, lists and maps render as text", async () => {
    const t = await compileTemplate("{{ vars.n + 1 }} {{ vars.ok }} {{ vars.list }} {{ vars.map }}", "step", names);
    expect(t.render({ vars: { n: 41n, ok: true, list: [1, "a"], map: { k: "v" } } }, "raw")).toBe('42 true [1,"a"] {"k":"v"}');
  });

  test("an unclosed {{ points at its column", async () => {
    await expect(compileTemplate("echo {{ vars.x", "workflows.a.steps[0].ssh", names)).rejects.toMatchObject({ code: "E_TEMPLATE", message: expect.stringContaining('"{{" at column 6') });
  });

  test("an unknown name fails at compile time", async () => {
    await expect(compileTemplate("{{ varz.x }}", "step", names)).rejects.toMatchObject({ code: "E_EXPR_UNKNOWN" });
  });

  test("a value missing at render time is an error naming the expression", async () => {
    const t = await compileTemplate("echo {{ vars.missing }}", "step", names);
    expect(() => t.render({ vars: {} }, "shell")).toThrow(/\{\{ vars.missing \}\} at column 6/);
  });
});

describe("shell values are references, in every quoting around {{ }}", () => {
  const hostile = `$(id) \`id\` 'single' "double" \\back\nnewline $HOME`;
  test.each([
    ["bare", "printf %s {{ vars.v }}"],
    ["inside double quotes", 'printf %s "{{ vars.v }}"'],
    ["inside single quotes", "printf %s '{{ vars.v }}'"],
    ["mixed with text", 'printf %s "pre-{{ vars.v }}-post"'],
  ])("%s", async (_name, command) => {
    const t = await compileTemplate(command, "step", names, "shell");
    const out = Bun.spawnSync(["sh", "-c", t.render({ vars: { v: hostile } }, "shell")]).stdout.toString();
    expect(out).toBe(command.includes("pre-") ? `pre-${hostile}-post` : hostile);
  });
});
