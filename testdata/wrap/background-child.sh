#!/bin/sh
# Leaves a child in the background and sleeps itself: $1 is a sleep binary whose path carries a marker.
"$1" 300 &
"$1" 300
