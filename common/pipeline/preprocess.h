#pragma once
// The shared part of every recipe, after a converter's load(): channel
// conversion, the manifest's crop rule, then one resize per requested size.
#include <vector>

#include "common/core/image.h"
#include "common/manifest/manifest.h"
#include "common/ops/resize.h"

namespace mmb {

enum class CropRule { None, CenterSquare, Center };

struct PreprocessParams {
  CropRule crop = CropRule::None;
  int crop_width = 0, crop_height = 0;  // CropRule::Center
  ResizeKernel kernel = ResizeKernel::Spline;
  int channels = 1;
};

// From [preprocess] crop / crop_size / resize_kernel and [dataset] n_channels.
PreprocessParams preprocess_params(const Manifest& manifest);

// Returns one image per size (S x S, or S^3 for volumes).
// Takes the image by value: a loaded image that needs no conversion is moved, not copied.
std::vector<Image> preprocess(Image loaded, const PreprocessParams& params, const std::vector<int>& sizes);

}  // namespace mmb
