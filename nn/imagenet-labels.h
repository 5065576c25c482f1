/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to nn/: the built-in ImageNet-1k class names behind
 * rn50_labels_new_imagenet(), generated into imagenet-labels.c by
 * nn/gen-imagenet-labels.py. */
#pragma once

#define RN50_IMAGENET_LABEL_COUNT 1000

extern const char *const rn50_imagenet_labels[RN50_IMAGENET_LABEL_COUNT];
