#!/usr/bin/env python3
import sys

print(f"python {sys.version_info[0]} says hello {sys.argv[1]}")
