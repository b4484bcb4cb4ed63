import type { Hit, Rule } from "../types.ts";

/*
 * Secrets written into scripts and configs. Shared by the shell, Python and
 * workflow rules: each finds its language's assignments and asks here
 * whether the name and the literal value look like a secret.
 */

export const secretRules: readonly Rule[] = [
  {
    id: "OPS-SEC-001",
    severity: "error",
    title: "AWS access key in plain text",
    why: "An access key id in a file ends up in every clone, backup and log of it; with its secret it grants the key's whole IAM policy.",
    fix: "Remove the key, rotate it in IAM, and read credentials from the environment, an instance role or a secrets manager.",
  },
  {
    id: "OPS-SEC-002",
    severity: "error",
    title: "private key in plain text",
    why: "A private key committed with a script is readable by everyone who can read the script, and cannot be revoked by deleting the line.",
    fix: "Remove the key, replace it (it is compromised), and load it at run time from a file with mode 0600 or a secrets manager.",
  },
  {
    id: "OPS-SEC-003",
    severity: "error",
    title: "password or token assigned a literal",
    why: "A password or token written as a literal is visible in the repository, in `ps` output when passed as an argument, and in shell history.",
    fix: "Read it from the environment or a file at run time (opskit: env:NAME or file:/path), and rotate the one that was committed.",
  },
  {
    id: "OPS-SEC-004",
    severity: "error",
    title: "high-entropy value in a secret-named variable",
    why: "A random-looking value assigned to a *_KEY, *_SECRET or *_TOKEN name is almost always a real credential.",
    fix: "Move the value to the environment or a secrets file read at run time, and rotate it.",
  },
];

const awsKey = /\b((?:AKIA|ASIA)[0-9A-Z]{16})\b/g;
const privateKey = /-----BEGIN ((?:RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----/;
const keyBody = /^[\s"'`]*(Proc-Type:|[A-Za-z0-9+/=]{40,})/;

/**
 * Patterns that are secrets wherever they appear, comments included: an AWS
 * access key id (AWS's documentation key, which ends in EXAMPLE, excepted)
 * and a private key block (its header followed by key material, so that a
 * script grepping for the header is not reported).
 */
export function scanSecretPatterns(lines: readonly string[]): Hit[] {
  const hits: Hit[] = [];
  lines.forEach((line, index) => {
    if (line.includes("AKIA") || line.includes("ASIA")) {
      for (const match of line.matchAll(awsKey)) {
        if (match[1]!.endsWith("EXAMPLE")) continue;
        hits.push({ rule: "OPS-SEC-001", line: index + 1, column: match.index + 1, message: `AWS access key id ${match[1]!.slice(0, 8)}… in plain text`, redact: { column: match.index + 1, length: match[1]!.length } });
      }
    }
    if (line.includes("PRIVATE KEY")) {
      const match = privateKey.exec(line);
      if (!match) return;
      const rest = line.slice(match.index + match[0].length);
      const next = lines[index + 1] ?? "";
      if (keyBody.test(rest) || keyBody.test(next) || /^\s*Proc-Type:/.test(next) || /\\n[A-Za-z0-9+/=]{40,}/.test(rest)) {
        hits.push({ rule: "OPS-SEC-002", line: index + 1, column: match.index + 1, message: `${match[1] ?? ""}private key in plain text` });
      }
    }
  });
  return hits;
}

// Names: `password`, `DB_PASSWORD`, `api-token`, `authToken`. A bare PWD is the working directory.
const passwordName = /(?:^|[_.-])(?:password|passwd|passphrase|pass|token)$|[_.-]pwd$/i;
const passwordCamel = /[a-z0-9](?:Password|Passwd|Passphrase|Token)$/;
// Environment-style names run words together: PGPASSWORD, GITHUBTOKEN.
const passwordUpper = /^[A-Z0-9_]*(?:PASSWORD|PASSWD|PASSPHRASE|TOKEN)$/;
const keyName = /(?:^|[_.-])(?:key|secret|token|apikey|credentials?|auth|private_?key|access_?key|secret_?key)$/i;
const keyCamel = /[a-z0-9](?:Key|Secret|Token|Credentials?)$/;

/** A value that stands for a secret rather than being one. */
const placeholder = /^(x+|\*+|\.+|-+|changeme|change_me|change-me|password|passwd|secret|token|example|sample|dummy|test|testing|none|null|nil|undefined|true|false|yes|no|on|off|required|optional|empty|redacted|todo|fixme|your[_-]?\w*|<[^>]*>|\[[^\]]*\]|\{\{.*\}\}|%\(\w+\)s|\d{1,5})$/i;
const reference = /^(env|file|vault|secret|ssm|arn|op|gcp|azure):|^[/~.]|^https?:\/\/|\$|\{\{/;

export function isPasswordName(name: string): boolean {
  return passwordName.test(name) || passwordCamel.test(name) || passwordUpper.test(name);
}

export function isSecretName(name: string): boolean {
  return isPasswordName(name) || keyName.test(name) || keyCamel.test(name);
}

/** Shannon entropy of the string's characters, in bits per character. */
export function shannonEntropy(value: string): number {
  const counts = new Map<string, number>();
  for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * When a value counts as random. Measured over 2,000 random strings each:
 * base64 or alphanumeric strings of 16 characters have a median Shannon
 * entropy of 3.75 bits per character (1st percentile 3.35), of 24 or more
 * 4.25 (3.9); hex of 20 characters 3.4 (2.9), of 40 3.7 (3.4). Identifiers
 * and paths score as high (production_database_key 3.9,
 * org.freedesktop.NetworkManager 3.8) but change character class (lower,
 * upper, digit, other) between neighbours far less often than random text
 * (about 0.6 of neighbours), so a value counts as random when it is one token of at
 * least 16 characters mixing two of lower case, upper case and digits, with
 * 3.5 bits per character or more and class changes at 0.3 or more of
 * neighbours; or hex of at least 20 characters, with letters and digits, at
 * 3.0 bits or more. About 95% of random 16-character strings and all
 * random strings of 24 or more characters pass.
 */
export const entropyThreshold = { bits: 3.5, minLength: 16, classChanges: 0.3, hexBits: 3.0, hexMinLength: 20 } as const;

export function looksRandom(value: string): boolean {
  if (/^[0-9a-fA-F]+$/.test(value)) return value.length >= entropyThreshold.hexMinLength && /[0-9]/.test(value) && /[a-fA-F]/.test(value) && shannonEntropy(value) >= entropyThreshold.hexBits;
  if (value.length < entropyThreshold.minLength || !/^[A-Za-z0-9+/=_\-.~]+$/.test(value)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((r) => r.test(value)).length;
  return classes >= 2 && classChanges(value) >= entropyThreshold.classChanges && shannonEntropy(value) >= entropyThreshold.bits;
}

/** Share of neighbouring characters of different classes: about 0.6 in random text, under 0.3 in words and CamelCase names. */
function classChanges(value: string): number {
  const classOf = (c: string) => (c >= "a" && c <= "z" ? 0 : c >= "A" && c <= "Z" ? 1 : c >= "0" && c <= "9" ? 2 : 3);
  let changes = 0;
  for (let i = 1; i < value.length; i++) if (classOf(value[i]!) !== classOf(value[i - 1]!)) changes++;
  return changes / (value.length - 1);
}

/**
 * Whether assigning this literal to this name writes a secret down: a
 * password or token name with a real-looking literal (OPS-SEC-003), or a
 * key, secret or token name with a random-looking one (OPS-SEC-004).
 */
export function classifySecret(name: string, value: string): { rule: string; message: string } | undefined {
  const trimmed = value.trim();
  if (trimmed.length < 4 || placeholder.test(trimmed) || reference.test(trimmed)) return undefined;
  if (isPasswordName(name) && !/\s/.test(trimmed)) return { rule: "OPS-SEC-003", message: `${name} is assigned a literal ${describeValue(trimmed)}` };
  if ((keyName.test(name) || keyCamel.test(name) || isPasswordName(name)) && looksRandom(trimmed)) {
    return { rule: "OPS-SEC-004", message: `${name} is assigned a random-looking literal (${shannonEntropy(trimmed).toFixed(1)} bits/char over ${trimmed.length} characters)` };
  }
  return undefined;
}

/** Never prints the value itself: the report must not become the leak. */
function describeValue(value: string): string {
  return `(${value.length} characters)`;
}
