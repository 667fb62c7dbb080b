#include "common/ops/window.h"

#include <algorithm>
#include <cmath>

namespace mmb {

std::uint8_t hu_to_gray(double hu, const HuWindow& w) {
  const double lo = w.level - w.width / 2.0;
  const double v = (hu - lo) / w.width * 255.0;
  return static_cast<std::uint8_t>(std::nearbyint(std::clamp(v, 0.0, 255.0)));
}

std::vector<std::uint8_t> hu_window(const std::vector<float>& hu, const HuWindow& w) {
  std::vector<std::uint8_t> out(hu.size());
  std::transform(hu.begin(), hu.end(), out.begin(), [&](float v) { return hu_to_gray(v, w); });
  return out;
}

}  // namespace mmb

namespace mmb {

namespace {

Image image_like(const Volume& v) { return Image(v.size[0], v.size[1], v.size[2], 1); }

}  // namespace

Image window_to_image(const Volume& hu, const HuWindow& w) {
  Image out = image_like(hu);
  std::transform(hu.voxels.begin(), hu.voxels.end(), out.pixels.begin(), [&](float v) { return hu_to_gray(v, w); });
  return out;
}

Image mask_to_image(const Volume& mask, float threshold) {
  Image out = image_like(mask);
  std::transform(mask.voxels.begin(), mask.voxels.end(), out.pixels.begin(),
                 [&](float v) { return static_cast<std::uint8_t>(v > threshold ? 255 : 0); });
  return out;
}

}  // namespace mmb
