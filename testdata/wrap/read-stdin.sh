#!/bin/sh
# A legacy script that reads stdin: it must see EOF, not hang or read its own text.
if read -r line; then echo "read: $line"; else echo "read: eof"; fi
