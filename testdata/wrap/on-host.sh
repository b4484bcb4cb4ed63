#!/bin/sh
# Runs on a fleet host: who, which address the SSH connection reached, the argument, what stdin holds; exit 7.
words=$1
set -- $SSH_CONNECTION
if read -r line; then input="stdin: $line"; else input="stdin eof"; fi
echo "$(id -un) on $3: $words|$input"
exit 7
