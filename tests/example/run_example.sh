#!/bin/sh
# Runs the example ($1) and checks that it reported the worker's result. The
# example waits with no timeout, so a lost wake would hang it: the deadline is
# here, not in the example.
deadline_s=20
out="${TEST_TMPDIR:-/tmp}/wake_from_worker.out.$$"
"$1" >"$out" 2>&1 &
pid=$!
tenths=0
while kill -0 "$pid" 2>/dev/null; do
  if [ "$tenths" -ge $((deadline_s * 10)) ]; then
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "wake lost: the loop never saw the worker's wake (still waiting" \
      "after ${deadline_s} s); output so far: $(cat "$out")"
    exit 1
  fi
  sleep 0.1
  tenths=$((tenths + 1))
done
wait "$pid"
status=$?
result=$(cat "$out")
rm -f "$out"
if [ "$status" -ne 0 ]; then
  echo "example failed (exit status $status): $result"
  exit 1
fi
case "$result" in
  *"result: 42"*) echo "$result" ;;
  *) echo "expected 'result: 42', got: $result"; exit 1 ;;
esac
