#!/usr/bin/env bash
# The real redis-cli and redis-benchmark against a lesson 12 server binary ($1):
# the reference (//loop/redis:server, as ./tools/check runs it) or a learner's
# (bazel-bin/lessons/12_redis_server/server, as lesson 12's README shows).
# A missing client is a clear skip for a learner, and a failure when
# ELFS_REQUIRE_REDIS=1 (./tools/check sets it: it installs redis-tools itself).
# Every step has a deadline (timeout); the server is stopped with SIGTERM and
# must exit 0.
set -u
server=$1
tmp=${TEST_TMPDIR:-$(mktemp -d)}
failures=0

for tool in redis-cli redis-benchmark timeout; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "${ELFS_REQUIRE_REDIS:-0}" = 1 ]; then
      echo "FAIL: $tool is not installed; ./tools/check installs redis-tools (tools/lib/deps.sh --redis)"
      exit 1
    fi
    echo "SKIP: $tool is not installed, so the real-client suite did not run."
    echo "      Debian/Ubuntu: sudo apt-get install redis-tools   macOS: brew install redis"
    exit 0
  fi
done

"$server" --port 0 >"$tmp/server.out" 2>"$tmp/server.err" &
pid=$!
stop_server() { kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
trap stop_server EXIT

port=""
for _ in $(seq 100); do  # up to 10 s for "listening on 127.0.0.1:PORT"
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/server.out")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL: the server did not say 'listening on ...' within 10 s"
  cat "$tmp/server.out" "$tmp/server.err"
  exit 1
fi

check() {  # check WHAT EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    echo "ok: $1"
  else
    echo "FAIL: $1: expected [$2], got [$3]"
    failures=$((failures + 1))
  fi
}
cli() { timeout 10 redis-cli -p "$port" "$@" 2>&1; }

check "redis-cli PING" "PONG" "$(cli PING)"
check "redis-cli SET" "OK" "$(cli SET greeting hello)"
check "redis-cli GET" "hello" "$(cli GET greeting)"
check "redis-cli GET of a missing key" "" "$(cli GET missing)"
check "redis-cli INCR" "1" "$(cli INCR visits)"
check "redis-cli EXISTS" "1" "$(cli EXISTS greeting missing)"
check "redis-cli unknown command" \
  "ERR unknown command 'FROB', with args beginning with: 'x' " "$(cli FROB x)"
check "redis-cli reading commands from stdin" "$(printf 'OK\n2\n2')" \
  "$(printf 'SET a 1\nINCR a\nGET a\n' | cli)"

# Mass insertion: redis-cli --pipe writes 10,000 SETs as fast as it can and
# reads the replies as they come: pipelining by a client we did not write.
for i in $(seq 10000); do printf 'SET key:%d %d\r\n' "$i" "$i"; done >"$tmp/mass.txt"
pipe_out=$(timeout 30 redis-cli -p "$port" --pipe <"$tmp/mass.txt" 2>&1)
check "redis-cli --pipe: 10,000 replies, no errors" "errors: 0, replies: 10000" \
  "$(printf '%s\n' "$pipe_out" | sed -n 's/.*\(errors: [0-9]*, replies: [0-9]*\).*/\1/p')"
check "DBSIZE after the mass insertion" "10003" "$(cli DBSIZE)"
check "a value from the mass insertion" "7777" "$(cli GET key:7777)"

# redis-benchmark: every test it runs must report a rate, without and with
# pipelining.
for pipeline in 1 16; do
  bench=$(timeout 60 redis-benchmark -p "$port" -t ping,set,get -n 20000 -c 50 \
    -P "$pipeline" -q 2>&1 | tr '\r' '\n' | grep 'requests per second')
  for t in PING_INLINE PING_MBULK SET GET; do
    line=$(printf '%s\n' "$bench" | grep "^ *$t: " | tail -n 1)
    if [ -n "$line" ]; then
      echo "ok: redis-benchmark -P $pipeline: $line"
    else
      echo "FAIL: redis-benchmark -P $pipeline reported no rate for $t; it printed:"
      printf '%s\n' "$bench"
      failures=$((failures + 1))
    fi
  done
done

kill -TERM "$pid"
status=""
for _ in $(seq 100); do  # up to 10 s to shut down
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    status=$?
    break
  fi
  sleep 0.1
done
trap - EXIT
if [ -z "$status" ]; then
  echo "FAIL: the server did not exit within 10 s of SIGTERM"
  stop_server
  failures=$((failures + 1))
else
  check "exit status after SIGTERM" "0" "$status"
  check "the shutdown line" "yes" \
    "$(grep -q '^shut down by signal 15: ' "$tmp/server.out" && echo yes || echo no)"
fi
if [ -s "$tmp/server.err" ]; then
  echo "the server's stderr:"
  cat "$tmp/server.err"
fi
echo "$failures failed"
[ "$failures" -eq 0 ]
