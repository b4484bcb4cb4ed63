// Globs: the one matcher behind policy globs over commands and URLs, label
// selectors, and OpenSSH's host patterns (ssh_config, known_hosts). Each
// user's differences (escapes, case) are options. No imports: every layer may use it.
export { compileGlob, compilePatternList, globTokens, sshPattern, tokensOverlap, type Glob, type GlobOptions, type GlobToken, type Matcher } from "./glob.ts";
