#pragma once
// Limits on what an input's header may claim, checked before anything that size is
// allocated (issue 13: a 1 MB 32000x32000 PNG cost 2 GB, a 352-byte .nii.gz made ITK try
// >= 10 GB, a 255-byte npz asked montage for 7.9 GB). One struct holds every default;
// `--limit NAME=VALUE` (build, check, montage) fills it once, before threads start, and
// the readers consult input_limits(). docs/input-checks.md lists them.
#include <cstdint>
#include <string>
#include <vector>

namespace mmb {

struct InputLimits {
  // Pixels a PNG/JPEG/TIFF/BMP header may state. The largest source images are a few
  // megapixels (DeepDRiD 1736x1824); 2^27 (an 11585x11585 picture) leaves room.
  std::uint64_t image_pixels = std::uint64_t{1} << 27;
  // Voxel bytes a NIfTI header may state. A 512x512x1000 int16 CT is 0.5 GB.
  std::uint64_t nifti_voxel_bytes = std::uint64_t{16} << 30;
  // Bytes of a montage picture (all tiles, all frames); 1 GiB is 20 times a 10x10
  // montage of 64^3 volumes.
  std::uint64_t montage_bytes = std::uint64_t{1} << 30;
};

// The process's limits (the defaults until set_input_limits).
const InputLimits& input_limits();
void set_input_limits(const InputLimits& limits);

// The names --limit accepts, in InputLimits order.
const std::vector<std::string>& input_limit_names();

// Applies "NAME=VALUE" (VALUE a positive integer; 2^N is accepted). Throws
// std::invalid_argument naming the known names or the bad value.
void apply_input_limit(InputLimits& limits, const std::string& assignment);

}  // namespace mmb
