#pragma once
// Values of manifest settings checked before a build or check starts, so a bad value
// (a typo in --set, say) is a configuration error reported once, not an input error
// blamed on the first sample.
#include "common/manifest/manifest.h"

namespace mmb {

// Throws std::invalid_argument naming the key, the value and the valid values for:
// every preprocess.resize_kernel* string (one kernel, or an array/table of them)
// checked by parse_resize_kernel, the one list of kernel names; split.group;
// preprocess.crop (2D datasets).
void validate_settings(const Manifest& m);

}  // namespace mmb
