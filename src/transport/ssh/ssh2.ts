// ssh2 is loaded on first use: it is large, and a CLI command that never
// opens an SSH connection should not pay for parsing it.
export type Ssh2 = typeof import("ssh2");

let loading: Promise<Ssh2> | undefined;

export function loadSsh2(): Promise<Ssh2> {
  loading ??= import("ssh2").then((mod) => {
    // ssh2 is CommonJS: its exports arrive as named exports, or under default.
    const named = mod as Ssh2 & { default?: Ssh2 };
    return named.Client ? named : (named.default as Ssh2);
  });
  return loading;
}
