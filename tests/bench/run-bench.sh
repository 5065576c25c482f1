#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The benchmark of issue 4: nn/ vs ONNX Runtime, FMA-peak fraction, the
# element in a 1080p pipeline, peak RSS. Writes BUILD_DIR/bench/results.md,
# results.json and results.png; about 10 minutes on 2 cores.
#
#   tests/bench/run-bench.sh [BUILD_DIR] [--reps N] [--quick]
#
# Debian's python3 (numpy, onnx, PIL, gi) runs it, not a pyenv/venv one.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/run-bench.py" "$@"
