#pragma once
// The shared part of every recipe, after a converter's load(): channel
// conversion, the manifest's crop rule, then one resize per requested size.
#include <map>
#include <vector>

#include "common/core/image.h"
#include "common/manifest/manifest.h"
#include "common/ops/resize.h"

namespace mmb {

enum class CropRule { None, CenterSquare, Center };

struct PreprocessParams {
  CropRule crop = CropRule::None;
  int crop_width = 0, crop_height = 0;  // CropRule::Center
  // The kernel of every size the manifest does not name in kernel_by_size.
  ResizeKernel kernel = ResizeKernel::Spline;
  std::map<int, ResizeKernel> kernel_by_size;
  int channels = 1;

  ResizeKernel kernel_for(int size) const {
    const auto it = kernel_by_size.find(size);
    return it == kernel_by_size.end() ? kernel : it->second;
  }
};

// From [preprocess] crop / crop_size / resize_kernel / resize_kernel_by_size and
// [dataset] n_channels. resize_kernel, when present (in the manifest or from
// --set preprocess.resize_kernel=NAME), applies to every size; otherwise
// resize_kernel_by_size = { 28 = "pil-bilinear", ... } names a kernel per size
// and the others use the struct's default.
PreprocessParams preprocess_params(const Manifest& manifest);

// Returns one image per size (S x S, or S^3 for volumes).
// Takes the image by value: a loaded image that needs no conversion is moved, not copied.
std::vector<Image> preprocess(Image loaded, const PreprocessParams& params, const std::vector<int>& sizes);

}  // namespace mmb
