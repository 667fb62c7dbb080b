#include "common/ops/geometry.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mmb {

int center_crop_offset(int size, int crop) {
  // torchvision.transforms.functional.center_crop: int(round((size - crop) / 2.0)),
  // Python's round-half-to-even. An odd difference d = 2k + 1 puts the extra
  // pixel at the start when k is odd, at the end when k is even.
  const int d = size - crop;
  int offset = d / 2;
  if (d % 2 == 1 && offset % 2 == 1) ++offset;
  return offset;
}

Image center_crop(const Image& in, int w, int h) {
  if (w > in.width || h > in.height || w <= 0 || h <= 0)
    throw std::invalid_argument("crop " + std::to_string(w) + "x" + std::to_string(h) +
                                " does not fit in a " + std::to_string(in.width) + "x" +
                                std::to_string(in.height) + " image");
  const int x0 = center_crop_offset(in.width, w), y0 = center_crop_offset(in.height, h);
  Image out(w, h, in.depth, in.channels);
  const std::size_t row = static_cast<std::size_t>(w) * in.channels;
  for (int z = 0; z < in.depth; ++z)
    for (int y = 0; y < h; ++y)
      std::copy_n(in.ptr(x0, y0 + y, z), row, out.ptr(0, y, z));
  return out;
}

Image center_crop_square(const Image& in) {
  const int side = std::min(in.width, in.height);
  return center_crop(in, side, side);
}

namespace {

std::uint8_t luminance(std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  // PIL's fixed-point ITU-R 601-2 transform: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
  return static_cast<std::uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

}  // namespace

Image to_channels(const Image& in, int channels) {
  if (channels != 1 && channels != 3) throw std::invalid_argument("channels must be 1 or 3");
  if (in.channels < 1 || in.channels > 4)
    throw std::invalid_argument("unsupported channel count " + std::to_string(in.channels));
  if (in.channels == channels) return in;
  Image out(in.width, in.height, in.depth, channels);
  const std::size_t n = in.voxel_count();
  const bool has_color = in.channels >= 3;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = &in.pixels[i * in.channels];
    std::uint8_t* q = &out.pixels[i * channels];
    if (channels == 1) {
      q[0] = has_color ? luminance(p[0], p[1], p[2]) : p[0];
    } else if (has_color) {
      q[0] = p[0], q[1] = p[1], q[2] = p[2];
    } else {
      q[0] = q[1] = q[2] = p[0];
    }
  }
  return out;
}

Image max_projection_z(const Image& in) {
  Image out(in.width, in.height, 1, in.channels);
  const std::size_t plane = static_cast<std::size_t>(in.width) * in.height * in.channels;
  for (int z = 0; z < in.depth; ++z)
    for (std::size_t i = 0; i < plane; ++i)
      out.pixels[i] = std::max(out.pixels[i], in.pixels[z * plane + i]);
  return out;
}

}  // namespace mmb
