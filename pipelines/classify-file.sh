#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Classifies every frame of a video file and prints timestamp + top-5.
#
#   pipelines/classify-file.sh MODEL.onnx VIDEO [prop=value ...]
#   e.g. pipelines/classify-file.sh resnet50-v1-7.onnx clip.mp4 resize-mode=stretch
set -eu
. "$(dirname "$0")/env.sh"
if [ $# -lt 2 ]; then
  echo "usage: $0 MODEL.onnx VIDEO [prop=value ...]" >&2
  exit 2
fi
model=$1
video=$2
shift 2
# Turn each prop=value into "--set prop=value", keeping values with spaces
# (mean="<0.5, 0.5, 0.5>") whole.
n=$#
while [ "$n" -gt 0 ]; do
  set -- "$@" --set "$1"
  shift
  n=$((n - 1))
done
exec "$here/pipelines/classify.py" --model "$model" --file "$video" "$@"
