#pragma once
// 2D image files (PNG, JPEG, TIFF, BMP) read with OpenCV. Pixels come back as
// 8-bit, RGB order (not OpenCV's BGR), with whatever channel count the file has
// (1, 2 = gray+alpha, 3, 4 = RGBA); channel conversion is a separate op.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/core/image.h"

namespace mmb {

// Cheap integrity check without decoding: the file exists, is non-empty, has
// a known signature and (PNG, JPEG) its end marker. Returns "" when fine,
// otherwise the reason ("truncated PNG (no IEND chunk)").
std::string probe_image_file(const std::filesystem::path& file);

// Limits on what a header may claim, checked before decoding allocates anything. The
// largest source images are a few megapixels (DeepDRiD 1736x1824); 2^27 pixels (an
// 11585x11585 picture) leaves room and refuses a 32000x32000 "1 MB" PNG.
struct ImageLimits {
  std::uint64_t max_pixels = std::uint64_t{1} << 27;
};

// The width and height a PNG, JPEG, TIFF or BMP header states, checked against the
// limits: "" when fine (or when the header does not say; the decoder judges), else the
// reason.
std::string check_image_header(std::span<const unsigned char> bytes, const ImageLimits& limits = {});

// Decodes the file. Throws InputError(file, reason) when it is missing,
// truncated or undecodable. 16-bit samples are scaled to 8 bits.
Image read_image_file(const std::filesystem::path& file);

// All pages of a multi-page TIFF, each as an Image (for z-stacks).
std::vector<Image> read_image_pages(const std::filesystem::path& file);

}  // namespace mmb
