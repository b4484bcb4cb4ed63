#!/bin/sh
# Prints $1 bytes of x, then a newline.
head -c "$1" /dev/zero | tr '\0' x
echo
