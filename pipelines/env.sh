# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the pipeline scripts: use the plugin from the build tree (unless
# it is installed) and the bundled synthetic model when no model is given.
here=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-"$here/build"}
if [ -d "$build_dir/plugin" ]; then
  export GST_PLUGIN_PATH_1_0="$build_dir/plugin${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"
fi
default_model="$build_dir/tests/models/resnet50-tv-opset13.onnx"
default_clip=/usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4
