# Installs what the workshop needs, saying what and why. Sourced by tools/start,
# tools/check and .ci/run; safe to run again (it only installs what is missing).
#
#   ensure_deps            Bazel, a C++ compiler, GoogleTest, Benchmark, Python 3, git, strace
#   ensure_deps --maintainer   also clang-format, clang, clangd and buildifier (for ./tools/check)
#   ensure_deps --bench        also the "bench" group: libuv, Boost (Asio) and gnuplot,
#                              which only tests/benchmarks and ./tools/bench need;
#                              also Debian's cargo and librust-mio-dev, for the real
#                              mio's rows (tests/benchmarks/mio, built offline)
#                              (./tools/check and ./tools/bench ask for it; ./tools/start
#                              does not, so a learner never installs them)
#   ensure_deps --redis        also the "redis" group: redis-tools (redis-cli,
#                              redis-benchmark) and redis-server, which tests/redis
#                              and ./tools/bench drive against lesson 12's server
#                              (a learner installs them only to try lesson 12 by hand)
#   ensure_deps --editor       also clangd, the language server an editor runs on
#                              compile_commands.json (the dev container, .devcontainer/)
#   ensure_deps --container    also docker.io and debootstrap, with which
#                              ./tools/devcontainer-test builds and tries the dev container
# The flags combine: ensure_deps --maintainer --bench --redis.

_deps_say() { printf '[setup] %s\n' "$*" >&2; }

# Debian's bazel-bootstrap installs /usr/bin/bazel-4 behind a wrapper that reads
# .bazelversion ("4.2.3") and looks for /usr/bin/bazel-4.2.3. Name it once.
_deps_link_debian_bazel() {
  if [ -x /usr/bin/bazel-4 ] && [ ! -e /usr/bin/bazel-4.2.3 ]; then
    _deps_say "linking /usr/bin/bazel-4.2.3 -> bazel-4 (Debian names Bazel 4.2.3 'bazel-4'; .bazelversion asks for 4.2.3)"
    $SUDO ln -s bazel-4 /usr/bin/bazel-4.2.3
  fi
}

_deps_has() {  # _deps_has FLAG ARGS...: is FLAG among ARGS?
  local want=$1 a
  shift
  for a in "$@"; do [ "$a" = "$want" ] && return 0; done
  return 1
}

_deps_missing_debian() {
  local missing=() pkg
  command -v bazel >/dev/null 2>&1 || [ -x /usr/bin/bazel-4 ] || missing+=(bazel-bootstrap)
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  command -v git >/dev/null 2>&1 || missing+=(git)
  command -v strace >/dev/null 2>&1 || missing+=(strace)
  [ -f /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
  [ -f /usr/include/gmock/gmock.h ] || missing+=(libgmock-dev)
  [ -f /usr/include/benchmark/benchmark.h ] || missing+=(libbenchmark-dev)
  if _deps_has --maintainer "$@"; then
    command -v clang-format >/dev/null 2>&1 || missing+=(clang-format)
    command -v clang >/dev/null 2>&1 || missing+=(clang)
    command -v clangd >/dev/null 2>&1 || missing+=(clangd)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  fi
  if _deps_has --editor "$@" && ! _deps_has --maintainer "$@"; then
    command -v clangd >/dev/null 2>&1 || missing+=(clangd)
  fi
  if _deps_has --container "$@"; then
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  fi
  if _deps_has --bench "$@"; then
    [ -f /usr/include/uv.h ] || missing+=(libuv1-dev)
    [ -f /usr/include/boost/asio.hpp ] || missing+=(libboost-dev)
    # gnuplot-nox: gnuplot without X11/Qt (the "gnuplot" package would pull in Qt).
    command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
    # Debian's cargo by its path: a rustup cargo on PATH is another toolchain than CI's.
    [ -x /usr/bin/cargo ] || missing+=(cargo)
    compgen -G '/usr/share/cargo/registry/mio-0.8.*' >/dev/null || missing+=(librust-mio-dev)
  fi
  if _deps_has --redis "$@"; then
    { command -v redis-cli && command -v redis-benchmark; } >/dev/null 2>&1 || missing+=(redis-tools)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  fi
  for pkg in "${missing[@]}"; do printf '%s\n' "$pkg"; done
}

_deps_why() {
  case "$1" in
    bazel-bootstrap) echo "Bazel 4.2.3, the build and test tool of every lesson" ;;
    g++) echo "the C++17 compiler" ;;
    python3) echo "runs ./tools/progress, hint, check" ;;
    git) echo "./tools/reset restores starters from git" ;;
    strace) echo "./tools/break 09 draws the early drop's system calls per thread as a timeline; ./tools/bench counts each benchmark row's system calls" ;;
    libgtest-dev) echo "GoogleTest, the lessons' test framework" ;;
    libgmock-dev) echo "GoogleMock headers that GoogleTest ships with" ;;
    libbenchmark-dev) echo "Google Benchmark, for the performance measurements" ;;
    clang-format) echo "checks C++ formatting (maintainer check)" ;;
    clang) echo "the second compiler the code must build with (maintainer check)" ;;
    clangd) echo "the C++ language server editors run on compile_commands.json (editor group; the maintainer check runs it too)" ;;
    docker.io) echo "the Docker engine that ./tools/devcontainer-test builds the dev container with (container group)" ;;
    debootstrap) echo "makes the Debian 12 base image of the dev container offline (container group)" ;;
    npm) echo "installs buildifier and ibazel offline from the npm registry" ;;
    chromium) echo "headless, it opens ./tools/room's page in the room step's end-to-end test (maintainer check)" ;;
    libuv1-dev) echo "libuv, whose uv_async_send the benchmarks compare the Waker with (bench group)" ;;
    libboost-dev) echo "Boost (header-only Asio), whose post() the benchmarks compare the Waker with (bench group)" ;;
    gnuplot-nox) echo "draws the plots of docs/benchmarks.md (bench group)" ;;
    cargo) echo "Rust's build tool (with rustc), which builds the real mio's benchmark offline (bench group)" ;;
    librust-mio-dev) echo "the sources of Rust's mio 0.8, measured beside the Waker and showing lesson 09's bug (bench group)" ;;
    redis-tools) echo "redis-cli and redis-benchmark, the real clients lesson 12's server is tested with (redis group)" ;;
    redis-server) echo "the real Redis, which ./tools/bench measures lesson 12's server against (redis group)" ;;
  esac
}

ensure_deps() {
  SUDO=""
  if [ "$(uname -s)" = Darwin ]; then
    local need=()
    command -v bazel >/dev/null 2>&1 || need+=(bazelisk)
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    brew_prefix=$(brew --prefix 2>/dev/null || echo /opt/homebrew)
    [ -f "$brew_prefix/include/gtest/gtest.h" ] || need+=(googletest)
    [ -f "$brew_prefix/include/benchmark/benchmark.h" ] || need+=(google-benchmark)
    if _deps_has --maintainer "$@"; then
      command -v clang-format >/dev/null 2>&1 || need+=(clang-format)
      command -v buildifier >/dev/null 2>&1 || need+=(buildifier)
      # ./tools/room's end-to-end test drives a headless Chrome or Chromium (a cask).
      [ -d "/Applications/Google Chrome.app" ] || [ -d "/Applications/Chromium.app" ] || need+=(chromium)
    fi
    if _deps_has --bench "$@"; then
      [ -f "$brew_prefix/include/uv.h" ] || need+=(libuv)
      [ -f "$brew_prefix/include/boost/asio.hpp" ] || need+=(boost)
      command -v gnuplot >/dev/null 2>&1 || need+=(gnuplot)
      # No mio here: Homebrew has `rust`, but mio would come from crates.io, and the mio
      # program builds offline from Debian's crate sources only, so ./tools/bench and
      # ./tools/check skip the mio rows on macOS and say so (tools/mio_peer.py).
    fi
    if _deps_has --redis "$@"; then
      command -v redis-cli >/dev/null 2>&1 || need+=(redis)
    fi
    if [ ${#need[@]} -gt 0 ]; then
      if command -v brew >/dev/null 2>&1; then
        _deps_say "installing with Homebrew: ${need[*]}"
        brew install "${need[@]}" || return 1
      else
        _deps_say "please install Homebrew (https://brew.sh), then: brew install ${need[*]}"
        return 1
      fi
    fi
    return 0
  fi

  if ! command -v apt-get >/dev/null 2>&1; then
    local missing
    missing=$(_deps_missing_debian "$@" | tr '\n' ' ')
    if [ -n "$missing" ]; then
      _deps_say "this is not a Debian/Ubuntu system, so I cannot install for you."
      _deps_say "please install the equivalents of: $missing"
      _deps_say "(Bazel 4.2.3, a C++17 compiler, GoogleTest, Google Benchmark, Python 3, git)"
      return 1
    fi
    return 0
  fi

  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
  fi
  local missing=()
  mapfile -t missing < <(_deps_missing_debian "$@")
  if [ ${#missing[@]} -gt 0 ]; then
    local pkg
    _deps_say "installing with apt-get: ${missing[*]}"
    for pkg in "${missing[@]}"; do _deps_say "  $pkg: $(_deps_why "$pkg")"; done
    if [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
      _deps_say "I need root for that and sudo is not available."
      _deps_say "please run as root: apt-get install -y ${missing[*]}"
      return 1
    fi
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/elfs-apt.log 2>&1; then
      _deps_say "apt-get install failed; trying apt-get update first"
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update >>/tmp/elfs-apt.log 2>&1
      if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/elfs-apt.log 2>&1; then
        _deps_say "apt-get install failed; the last lines of /tmp/elfs-apt.log:"
        tail -n 15 /tmp/elfs-apt.log >&2
        return 1
      fi
    fi
  fi
  _deps_link_debian_bazel
  return 0
}

# npm tools (buildifier, ibazel) go into <repo>/.tools, not system-wide.
ensure_npm_tool() {  # ensure_npm_tool ROOT PACKAGE BIN
  local root=$1 pkg=$2 bin=$3
  if [ -x "$root/.tools/node_modules/.bin/$bin" ]; then return 0; fi
  if ! command -v npm >/dev/null 2>&1; then
    _deps_say "npm is missing; install Node.js/npm to get $bin"
    return 1
  fi
  _deps_say "installing $pkg into .tools/ with npm (for $bin)"
  npm install --prefix "$root/.tools" --no-audit --no-fund --loglevel=error "$pkg" >&2
}
