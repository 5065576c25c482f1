#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README demo: classifies a real clip (cockatoo.mp4 from Debian's
# python3-imageio) frame by frame and prints timestamp + top-5 per frame.
#
#   pipelines/demo.sh [MODEL.onnx [VIDEO]]
#
# Without MODEL it uses the ResNet-50 that the build generates with synthetic
# (calibrated, but not trained) weights: the labels it prints are not real
# predictions. Give a trained model, e.g. the ONNX model zoo's
# resnet50-v1-7.onnx or a torchvision export, for real ones.
set -eu
. "$(dirname "$0")/env.sh"
model=${1:-$default_model}
clip=${2:-$default_clip}
if [ -z "${1:-}" ]; then
  echo "demo: no model given, using the SYNTHETIC test model $model" >&2
  echo "demo: (untrained weights: labels are not real predictions)" >&2
fi
exec "$here/pipelines/classify.py" --model "$model" --file "$clip"
