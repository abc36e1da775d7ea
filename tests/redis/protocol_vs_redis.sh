#!/usr/bin/env bash
# Runs protocol_test ($1) against the real redis-server on a Unix socket, so
# that the replies the test expects stay redis-server's own. A missing
# redis-server is a clear skip, and a failure when ELFS_REQUIRE_REDIS=1
# (./tools/check sets it: it installs redis-server itself). Every wait has a
# deadline; the server is stopped by its pid.
set -u
test_binary=$1
tmp=${TEST_TMPDIR:-$(mktemp -d)}
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "${ELFS_REQUIRE_REDIS:-0}" = 1 ]; then
    echo "FAIL: redis-server is not installed; ./tools/check installs it (tools/lib/deps.sh --redis)"
    exit 1
  fi
  echo "SKIP: redis-server is not installed, so the replies were not compared with Redis's."
  exit 0
fi
# A socket path must be shorter than 108 bytes; Bazel's TEST_TMPDIR is longer.
sockdir=$(mktemp -d /tmp/elfs-redis.XXXXXX)
sock="$sockdir/redis.sock"
redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no \
  --dir "$tmp" --logfile "$tmp/redis.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$sockdir"' EXIT
for _ in $(seq 100); do  # up to 10 s for the socket
  [ -S "$sock" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -S "$sock" ]; then
  echo "FAIL: redis-server made no socket at $sock within 10 s"
  cat "$tmp/redis.log"
  exit 1
fi
echo "comparing with $(redis-server --version)"
REDIS_UNIX_SOCKET=$sock "$test_binary"
