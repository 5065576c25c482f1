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
# Turn each prop=value into "--set prop=value", keeping values with spaces
# (mean="<0.5, 0.5, 0.5>") whole.
n=$#
while [ "$n" -gt 0 ]; do
  set -- "$@" --set "$1"
  shift
  n=$((n - 1))
done
exec "$here/pipelines/classify.py" --model "$model" --camera "$device" "$@"
