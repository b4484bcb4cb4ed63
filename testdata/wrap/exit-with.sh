#!/bin/sh
# Prints its other arguments and exits with the first.
code=$1
shift
printf 'args: '
printf '%s|' "$@"
echo
exit "$code"
