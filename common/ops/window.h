#pragma once
// CT intensity windowing: Hounsfield units to 8-bit gray.
#include <cstdint>
#include <vector>

namespace mmb {

struct HuWindow {
  double level = 50.0;   // abdominal default; each manifest sets its own
  double width = 400.0;
};

// [level - width/2, level + width/2] maps linearly onto [0, 255], clipped,
// rounded to nearest.
std::uint8_t hu_to_gray(double hu, const HuWindow& w);
std::vector<std::uint8_t> hu_window(const std::vector<float>& hu, const HuWindow& w);

}  // namespace mmb

#include "common/core/image.h"
#include "common/core/volume.h"

namespace mmb {

// A windowed volume as an 8-bit image (x = i, y = j, z = k).
Image window_to_image(const Volume& hu, const HuWindow& w);

// A mask volume as 0/255 (value > threshold is inside).
Image mask_to_image(const Volume& mask, float threshold = 0.5f);

}  // namespace mmb
