#pragma once
// Montage pictures of an .npz split, like medmnist's dataset.montage():
// a grid of samples as PNG or JPEG for 2D, an animated GIF of slices for 3D.
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "common/core/limits.h"

namespace mmb {

struct MontageOptions {
  int length = 10;            // grid is length x length samples
  unsigned seed = 0;          // which samples: a seeded random choice; 0 = the first ones
  // Refuse a montage (all its tiles, all frames) larger than this: the sizes come from
  // the .npz header, which a damaged file may inflate (InputLimits::montage_bytes).
  std::size_t max_bytes = InputLimits{}.montage_bytes;
  int border = 0;             // white lines of this width around and between the cells
  bool labels = false;        // draw each sample's class label in the top-left of its cell
};

// Usage errors of write_montage (bad length or border, a file name whose format does not
// fit the data): the caller can report them as such, unlike unreadable input.
struct MontageUsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Writes `out` and returns its path. The name's extension picks the format: .png, .jpg or
// .jpeg for 2D images (medmnist's own montage saves JPEG), .gif for 3D volumes (one frame per
// slice, as medmnist saves them). A name without one of these extensions gets ".png" (2D) or
// ".gif" (3D) appended; an image extension that does not fit the data (.gif for 2D, .png or
// .jpg for 3D) is a MontageUsageError. The grid has ceil(sqrt(k)) columns and as many rows as
// the k chosen samples fill, so a split with fewer samples than length x length cells gives
// a smaller grid, not empty rows. 4-D arrays (N,H,W,3) are RGB images; other 4-D arrays
// (N,D,H,W) are volumes.
std::filesystem::path write_montage(const std::filesystem::path& npz, const std::string& split,
                                    const std::filesystem::path& out, const MontageOptions& = {});

}  // namespace mmb
