import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { loadAgentConfig, loadConfig } from "./index.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A project directory holding these files. */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "opskit-load-agent-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** What a loader threw: its code and message, or "loaded". */
async function outcome(load: () => Promise<unknown>): Promise<{ code: string; message: string; hint?: string } | "loaded"> {
  try {
    await load();
    return "loaded";
  } catch (error) {
    const { code, message, hint } = error as { code: string; message: string; hint?: string };
    return { code, message, hint };
  }
}

const example = readFileSync(new URL("../../examples/opskit.yaml", import.meta.url), "utf8");
const agentSection = `
agent:
  server: { url: "http://127.0.0.1:9797", token: env:OPSKIT_WEBHOOK_TOKEN }
  stateDir: state
  listen: 127.0.0.1:0
  sources:
    - name: app
      key: fields.level
      files: { paths: [/var/log/app/*.log], multiline: { start: '^\\d{4}-' } }
  rules:
    - name: errors
      when: log.message.contains("ERROR")
      labels: { severity: warning }
observability:
  otlp: { endpoint: "http://127.0.0.1:4318", headers: { authorization: env:OTLP_AUTH } }
`;

describe("loadAgentConfig: agent: and observability: alone", () => {
  test("reads them as loadConfig does: the same values, defaults included, and the same file:line:col", async () => {
    const dir = project({ "opskit.yaml": `${example}\n${agentSection}` });
    const [whole, sections] = await Promise.all([loadConfig({ cwd: dir }), loadAgentConfig({ cwd: dir })]);
    expect(sections.config.agent).toEqual(whole.config.agent!);
    expect(sections.config.agent!.queue).toBe(10000);
    expect(sections.config.observability).toEqual(whole.config.observability);
    expect({ files: sections.files, baseDir: sections.baseDir }).toEqual({ files: whole.files, baseDir: whole.baseDir });
    for (const path of [["agent", "sources", 0, "files", "paths"], ["agent", "rules", 0, "when"], ["observability", "otlp", "endpoint"], ["workflows"]]) {
      expect(sections.where(path)).toBe(whole.where(path));
    }
  });

  test("an error in either section is the error loadConfig gives, at its file:line:col", async () => {
    const cases = [
      "agent:\n  sources:\n    - name: app\n  rules:\n    - name: a\n      wen: 'true'\n",
      "agent:\n  batch: { max: 5000 }\n",
      "agent:\n  spool: { maxBytes: lots }\n",
      'agent:\n  server: { url: "ftp://x" }\n',
      "observability:\n  otlp: { endpoint: http://c:4318, headers: { authorization: s3cr3t } }\n",
      "observability:\n  logLevel: loud\n",
    ];
    for (const yaml of cases) {
      const dir = project({ "opskit.yaml": yaml });
      const expected = await outcome(() => loadConfig({ cwd: dir }));
      expect(expected).not.toBe("loaded");
      expect({ yaml, got: await outcome(() => loadAgentConfig({ cwd: dir })) }).toEqual({ yaml, got: expected });
    }
    const dir = project({ "opskit.yaml": "agent:\n  rules:\n    - name: a\n      when: 'true'\n      lables: {}\n" });
    expect(await outcome(() => loadAgentConfig({ cwd: dir }))).toMatchObject({ code: "E_CONFIG_FIELD", message: expect.stringMatching(/^opskit\.yaml:5:7: agent\.rules\[0\]: unknown key "lables"/), hint: expect.stringContaining('did you mean "labels"?') });
  });

  test("the rest of the file is parsed, not validated: a broken workflow stops loadConfig only; a YAML error anywhere stops both", async () => {
    const broken = project({ "opskit.yaml": `workflows:\n  deploy:\n    steps: [{ shh: uptime }]\n${agentSection}` });
    expect(await outcome(() => loadConfig({ cwd: broken }))).toMatchObject({ code: "E_CONFIG_FIELD", message: expect.stringContaining("opskit.yaml:3:") });
    expect((await loadAgentConfig({ cwd: broken })).config.agent!.rules.map((rule) => rule.name)).toEqual(["errors"]);

    const syntax = project({ "opskit.yaml": `workflows:\n  deploy:\n    steps: [{ ssh: uptime }\n${agentSection}` });
    const expected = await outcome(() => loadConfig({ cwd: syntax }));
    expect(expected).toMatchObject({ code: "E_CONFIG_SYNTAX" });
    expect(await outcome(() => loadAgentConfig({ cwd: syntax }))).toEqual(expected);
  });

  test("opskit.d/: agent: in one file only, observability: merged by key, each duplicate the error loadConfig gives", async () => {
    const split = project({
      "opskit.d/10-agent.yaml": agentSection.replace(/^observability:[\s\S]*$/m, ""),
      "opskit.d/20-otlp.yaml": "observability:\n  otlp: { endpoint: http://collector:4318 }\n",
      "opskit.d/30-log.yaml": "observability:\n  logLevel: warn\n",
    });
    const [whole, sections] = await Promise.all([loadConfig({ cwd: split }), loadAgentConfig({ cwd: split })]);
    expect(sections.config).toEqual({ agent: whole.config.agent, observability: whole.config.observability });
    expect(sections.config.observability).toMatchObject({ otlp: { endpoint: "http://collector:4318" }, logLevel: "warn" });
    expect(sections.where(["agent", "rules", 0, "name"])).toBe(whole.where(["agent", "rules", 0, "name"]));
    expect(sections.where(["agent", "rules", 0, "name"])).toMatch(/^opskit\.d\/10-agent\.yaml:\d+:\d+$/);
    expect(sections.where(["observability", "logLevel"])).toBe("opskit.d/30-log.yaml:2:13");

    for (const files of [
      { "opskit.d/a.yaml": "agent: {}\n", "opskit.d/b.yaml": "agent: {}\n" },
      { "opskit.d/a.yaml": "observability: { logLevel: warn }\n", "opskit.d/b.yaml": "observability: { logLevel: info }\n" },
    ]) {
      const dir = project(files);
      const expected = await outcome(() => loadConfig({ cwd: dir }));
      expect(expected).toMatchObject({ code: "E_CONFIG_DUPLICATE" });
      expect(await outcome(() => loadAgentConfig({ cwd: dir }))).toEqual(expected);
    }
  });

  test("--env: a name the config does not define is the error loadConfig gives; a defined one is kept", async () => {
    const dir = project({ "opskit.yaml": `environments:\n  staging: { vars: { a: 1 } }\n${agentSection}` });
    expect((await loadAgentConfig({ cwd: dir, env: "staging" })).environment).toBe("staging");
    const expected = await outcome(() => loadConfig({ cwd: dir, env: "prod" }));
    expect(expected).toMatchObject({ code: "E_USAGE_ENV", hint: "use one of: staging" });
    expect(await outcome(() => loadAgentConfig({ cwd: dir, env: "prod" }))).toEqual(expected);
    const none = project({ "opskit.yaml": agentSection });
    expect(await outcome(() => loadAgentConfig({ cwd: none, env: "prod" }))).toEqual(await outcome(() => loadConfig({ cwd: none, env: "prod" })));
  });

  test("written holds each file as written, so secret references outside agent: are still found", async () => {
    const dir = project({ "opskit.yaml": `server:\n  token: env:OPSKIT_TOKEN\n${agentSection}` });
    const { written } = await loadAgentConfig({ cwd: dir });
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ server: { token: "env:OPSKIT_TOKEN" }, agent: { server: { token: "env:OPSKIT_WEBHOOK_TOKEN" } } });
  });
});
