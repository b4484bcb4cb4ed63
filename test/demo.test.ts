import { expect, test } from "bun:test";
import { runOpskit } from "./harness/cli.ts";

test("opskit demo breaks a service and shows the alert, the remediation, the verification and the closed incident", async () => {
  const result = await runOpskit(["demo"], { timeoutMs: 90_000 });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const out = result.stdout;
  const order = [
    /all services healthy/,
    /breaking api: kill -9 \d+/,
    /incident 1 opened: ServiceDown .*"service":"api".* → rule restart-down-service/,
    /incident 1: remediation attempt 1 started: workflow restart-service on local/,
    /incident 1: remediated/,
    /incident 1: verified/,
    /incident 1 resolved after [\d.]+m?s: alert resolved/,
    /incident 1 \(ServiceDown api\) closed: alert resolved/,
    /time to detect\s+[\d.]+m?s/,
    /time to resolve\s+[\d.]+m?s/,
  ];
  let from = 0;
  for (const pattern of order) {
    const at = out.slice(from).search(pattern);
    expect({ pattern: String(pattern), found: at >= 0 }).toEqual({ pattern: String(pattern), found: true });
    from += at;
  }
  // Everything it started is gone: no demo service is left listening.
  const left = () => Bun.spawnSync(["sh", "-c", "ps -eo args | grep -c '[d]emo-service --name' || true"]).stdout.toString().trim();
  for (let i = 0; i < 40 && left() !== "0"; i++) await Bun.sleep(50);
  expect(left()).toBe("0");
}, 120_000);
