import { describe, expect, test } from "bun:test";
import { compileTemplate } from "./index.ts";

const names = ["vars", "target"];

describe("templates", () => {
  test("text without {{ }} renders unchanged", async () => {
    const t = await compileTemplate("systemctl restart api", "step", names);
    expect(t.constant).toBe(true);
    expect(t.render({}, "shell")).toBe("systemctl restart api");
  });

  test("shell context single-quotes every value so hostile text stays literal", async () => {
    const t = await compileTemplate("echo {{ vars.msg }} > /tmp/x", "step", names);
    const hostile = "$(rm -rf /); `id` 'quoted' \"double\"\nnext line";
    const rendered = t.render({ vars: { msg: hostile } }, "shell");
    expect(rendered).toBe(`echo '$(rm -rf /); \`id\` '\\''quoted'\\'' "double"\nnext line' > /tmp/x`);
    // The shell itself must read the value back byte for byte.
    const echo = Bun.spawnSync(["sh", "-c", t.render({ vars: { msg: hostile } }, "shell").replace(" > /tmp/x", "")]);
    expect(echo.stdout.toString()).toBe(`${hostile}\n`);
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

describe("shell quoting follows the quotes around {{ }}", () => {
  const hostile = `$(id) \`id\` 'single' "double" \\back\nnewline $HOME`;
  test.each([
    ["bare", "printf %s {{ vars.v }}"],
    ["inside double quotes", 'printf %s "{{ vars.v }}"'],
    ["inside single quotes", "printf %s '{{ vars.v }}'"],
    ["mixed with text", 'printf %s "pre-{{ vars.v }}-post"'],
  ])("%s", async (_name, command) => {
    const t = await compileTemplate(command, "step", names);
    const out = Bun.spawnSync(["sh", "-c", t.render({ vars: { v: hostile } }, "shell")]).stdout.toString();
    expect(out).toBe(command.includes("pre-") ? `pre-${hostile}-post` : hostile);
  });
});
