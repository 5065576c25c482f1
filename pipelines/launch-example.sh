#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The example launch line from the element's documentation, runnable as is:
# prints the element messages (-m) for every frame of a clip.
#
#   pipelines/launch-example.sh [MODEL.onnx [VIDEO]]
set -eu
. "$(dirname "$0")/env.sh"
model=${1:-$default_model}
clip=${2:-$default_clip}
exec gst-launch-1.0 -m filesrc location="$clip" ! decodebin ! videoconvert ! \
  resnet50classify model-location="$model" post-messages=true ! fakesink
