#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Soak benchmark (issue 5), not part of `tools/bootstrap test`: 10,000 frames
# of 640x480 through the element on the generated full-size ResNet-50, RSS
# sampled every 500 frames; prints the curve and fails unless RSS after
# frame 500 stays within ±5 MB of its value at frame 500. About 10 minutes
# on 2 cores. Extra arguments go to soak.py (e.g. --frames 2000).
#
# Usage: tests/soak/run-soak.sh [MODEL] [soak.py options]
#   env BUILD_DIR (default ./build)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${BUILD_DIR:-./build}" && pwd)
model=$build/tests/models/resnet50-tv-opset13.onnx
case "${1:-}" in
  ''|-*) ;;
  *) model=$1; shift ;;
esac
ninja -C "$build" plugin/libgstresnet50classify.so \
  tests/models/resnet50-tv-opset13.onnx >/dev/null
export GST_PLUGIN_PATH_1_0=$build/plugin
export GST_REGISTRY_1_0=$build/soak-registry.bin
exec /usr/bin/python3 "$here/soak.py" "$model" "$@"
