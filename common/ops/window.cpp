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
