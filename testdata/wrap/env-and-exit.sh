#!/bin/sh
# Greets from the environment and exits 24, which the step's exit map reads as ok.
echo "$GREETING from $1"
exit 24
