#!/bin/sh
# Runs the example and checks that it reported the worker's result.
out=$("$1") || { echo "example failed: $out"; exit 1; }
case "$out" in
  *"result: 42"*) echo "$out" ;;
  *) echo "expected 'result: 42', got: $out"; exit 1 ;;
esac
