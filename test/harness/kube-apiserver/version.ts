/** What the test API server says it is at /version: a release kubectl 1.20 to 1.33 all talk to. */
export const serverVersion = {
  major: "1",
  minor: "31",
  gitVersion: "v1.31.0+opskit-test",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2024-08-13T00:00:00Z",
  goVersion: "go1.22.5",
  compiler: "gc",
  platform: "linux/amd64",
};
