#!/usr/bin/env bash
# ./tools/check_layering.sh: only the layering step of ./tools/check, which asks
# `bazel query` (nothing is built): the library (//:loop) depends only on loop/ and
# external repositories, nothing outside lessons/ depends on lessons/, and tools/ has no
# C++ targets. Ends with "N passed, N failed", like ./tools/check.
set -euo pipefail
root=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
# ELFS_ names are this project's (Event Loop From Scratch). Bazel gets this PATH, not a
# pyenv/venv one.
export ELFS_SHELL_PATH="${ELFS_SHELL_PATH:-$PATH}"
exec python3 "$root/tools/check_suite.py" --only layering "$@"
