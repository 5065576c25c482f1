#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Classifies a V4L2 camera live and prints timestamp + top-5 per frame.
#
#   pipelines/classify-camera.sh MODEL.onnx [/dev/video0] [prop=value ...]
set -eu
. "$(dirname "$0")/env.sh"
if [ $# -lt 1 ]; then
  echo "usage: $0 MODEL.onnx [DEVICE] [prop=value ...]" >&2
  exit 2
fi
model=$1
device=${2:-/dev/video0}
[ $# -ge 2 ] && shift 2 || shift 1
set -- $(for p in "$@"; do printf -- '--set %s ' "$p"; done)
exec "$here/pipelines/classify.py" --model "$model" --camera "$device" "$@"
