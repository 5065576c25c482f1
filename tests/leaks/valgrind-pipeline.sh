#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# valgrind memcheck of a whole pipeline (issue 5): gst-launch-1.0 runs
# videotestsrc ! videoconvert ! resnet50classify ! fakesink for FRAMES_A and
# FRAMES_B frames (default 100 and 300) under memcheck. Fails unless both
# runs report no memory errors, 0 bytes definitely and indirectly lost, and
# "still reachable" (memory held at exit: caches, GType data) is the same
# within TOLERANCE bytes for both frame counts, i.e. nothing accumulates per
# frame. The model (make-valgrind-model.py) is a ResNet at toy width with
# an 8x8/8 patch stem: Conv+BN+ReLU, max pool, a bottleneck block with a
# downsampling shortcut and residual sum, global pool, Gemm, i.e. every
# kind of layer the element lowers for ResNet-50, at ~0.15 s per frame
# under memcheck. The full-size ResNet-50 did not get through 3 frames in
# 10 minutes under memcheck, and the 224x224 toy ResNet of tests/engine
# (small-cnn.onnx) costs ~1.1 s per frame (7.5 minutes for 100 + 300).
# Debian ships no gst.supp (GStreamer's suppression file lives in its
# source tree only), so gst.supp here holds the few one-time allocations of
# gst-launch and GLib that memcheck flags.
#
# Usage: tests/leaks/valgrind-pipeline.sh [FRAMES_A FRAMES_B]
#   env BUILD_DIR (default ./build), TOLERANCE (bytes, default 0)
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${BUILD_DIR:-./build}" && pwd) || exit 1
frames_a=${1:-100}
frames_b=${2:-300}
tolerance=${TOLERANCE:-0}

ninja -C "$build" plugin/libgstresnet50classify.so >/dev/null || exit 1
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$work/valgrind-resnet.onnx
/usr/bin/python3 "$here/make-valgrind-model.py" "$model" || exit 1
# The model has 10 classes; the element insists on one label per class.
for i in 0 1 2 3 4 5 6 7 8 9; do echo "class $i"; done >"$work/labels.txt"

export GST_PLUGIN_PATH_1_0=$build/plugin
export GST_REGISTRY_1_0=$work/registry.bin
export GST_REGISTRY_FORK=no
# One OpenMP thread: memcheck serializes threads anyway, and oneDNN's worker
# pool then stays out of the picture.
export OMP_NUM_THREADS=1
# Build the registry outside valgrind.
gst-inspect-1.0 resnet50classify >/dev/null || exit 1

# Prints "errors definitely indirectly reachable" for one run.
run() {
  log=$work/memcheck-$1.log
  start=$(date +%s)
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --num-callers=40 \
    --suppressions="$here/gst.supp" --error-exitcode=0 \
    gst-launch-1.0 -q videotestsrc num-buffers="$1" \
      ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert \
      ! resnet50classify model-location="$model" \
        labels-location="$work/labels.txt" threads=1 post-messages=true \
      ! fakesink >"$log" 2>&1
  rc=$?
  end=$(date +%s)
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tr -d ,)
  definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d ,)
  indirect=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d ,)
  reachable=$(sed -n 's/.*still reachable: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d ,)
  echo "$1 frames: exit $rc, $((end - start)) s, errors ${errors:-?}," \
    "definitely lost ${definite:-?} B, indirectly lost ${indirect:-?} B," \
    "still reachable ${reachable:-?} B" >&2
  grep "LEAK SUMMARY" -A 6 "$log" | sed 's/^==[0-9]*== /  /' >&2
  if [ "$rc" -ne 0 ] || [ "${errors:-x}" != 0 ] || [ "${definite:-x}" != 0 ] ||
    [ "${indirect:-x}" != 0 ] || [ -z "${reachable:-}" ]; then
    echo "memcheck found problems; log follows" >&2
    cat "$log" >&2
    return 1
  fi
  echo "$reachable"
}

reach_a=$(run "$frames_a") || exit 1
reach_b=$(run "$frames_b") || exit 1
growth=$((reach_b - reach_a))
echo "still reachable: $reach_a B after $frames_a frames, $reach_b B after" \
  "$frames_b frames (growth $growth B, tolerance $tolerance B)"
if [ "$growth" -gt "$tolerance" ] || [ "$growth" -lt "-$tolerance" ]; then
  echo "FAIL: still-reachable memory depends on the frame count" >&2
  exit 1
fi
echo "OK: 0 bytes lost, no memory errors, no growth with frame count"
