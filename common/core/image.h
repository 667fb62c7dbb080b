#pragma once
// The one pixel container every stage passes along: 8-bit, channels interleaved,
// x fastest, then y, then z. A 2D image has depth 1.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mmb {

struct Image {
  int width = 0;
  int height = 0;
  int depth = 1;
  int channels = 1;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(int w, int h, int d, int c)
      : width(w), height(h), depth(d), channels(c),
        pixels(static_cast<std::size_t>(w) * h * d * c, 0) {}

  std::size_t voxel_count() const { return static_cast<std::size_t>(width) * height * depth; }
  std::size_t byte_size() const { return voxel_count() * channels; }
  bool empty() const { return pixels.empty(); }

  std::uint8_t& at(int x, int y, int z = 0, int c = 0) { return pixels[index(x, y, z, c)]; }
  std::uint8_t at(int x, int y, int z = 0, int c = 0) const { return pixels[index(x, y, z, c)]; }
  std::uint8_t* ptr(int x, int y, int z = 0) { return pixels.data() + index(x, y, z, 0); }
  const std::uint8_t* ptr(int x, int y, int z = 0) const { return pixels.data() + index(x, y, z, 0); }

 private:
  std::size_t index(int x, int y, int z, int c) const {
    return ((static_cast<std::size_t>(z) * height + y) * width + x) * channels + c;
  }
};

}  // namespace mmb
