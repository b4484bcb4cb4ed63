# Sourced by uses-lib.sh from beside it.
greet() { echo "hello from lib, $1"; }
