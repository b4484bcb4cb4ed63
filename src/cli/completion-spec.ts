import { defineCommand } from "./options.ts";

export const shells = ["bash", "zsh", "fish"] as const;

export const completionSpec = defineCommand({
  name: "completion",
  description: "print the shell completion script for bash, zsh or fish: commands, subcommands, flags, their values and files",
  argument: { name: "<shell>", description: "bash, zsh or fish" },
  subcommands: shells,
  options: {},
  examples: [
    { text: "Complete in every new bash", command: "echo 'source <(opskit completion bash)' >> ~/.bashrc" },
    { text: "zsh: a file named _opskit on $fpath", command: 'opskit completion zsh > "${fpath[1]}/_opskit"' },
    { text: "fish", command: "opskit completion fish > ~/.config/fish/completions/opskit.fish" },
  ],
});
