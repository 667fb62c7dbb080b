#pragma once
// Montage pictures of an .npz split, like medmnist's dataset.montage():
// a square grid of samples as PNG for 2D, an animated GIF of slices for 3D.
#include <cstddef>
#include <filesystem>
#include <string>

namespace mmb {

struct MontageOptions {
  int length = 10;            // grid is length x length samples
  unsigned seed = 0;          // which samples: a seeded random choice; 0 = the first ones
  // Refuse a montage (all its tiles, all frames) larger than this: the sizes come from
  // the .npz header, which a damaged file may inflate. 1 GiB is 20 times a 10x10 montage
  // of 64^3 volumes.
  std::size_t max_bytes = std::size_t{1} << 30;
};

// Writes `out` (PNG for 2D images, GIF for 3D volumes) and returns its path.
// The returned path carries the right extension: ".png"/".gif" is appended to
// an `out` without one, and a mismatching ".png"/".gif" is replaced.
// 4-D arrays (N,H,W,3) are RGB images; other 4-D arrays (N,D,H,W) are volumes.
std::filesystem::path write_montage(const std::filesystem::path& npz, const std::string& split,
                                    const std::filesystem::path& out, const MontageOptions& = {});

}  // namespace mmb
