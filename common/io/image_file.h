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
#include "common/core/limits.h"

namespace mmb {

// Cheap integrity check without decoding: the file exists, is non-empty, has
// a known signature and (PNG, JPEG) its end marker. Returns "" when fine,
// otherwise the reason ("truncated PNG (no IEND chunk)").
std::string probe_image_file(const std::filesystem::path& file);

// Limits on what a header may claim, checked before decoding allocates anything; the
// default (refusing a 32000x32000 "1 MB" PNG) and its reason are InputLimits::image_pixels.
struct ImageLimits {
  std::uint64_t max_pixels = InputLimits{}.image_pixels;
};

// The width and height a PNG, JPEG, TIFF or BMP header states, checked against the
// limits: "" when fine (or when the header does not say; the decoder judges), else the
// reason.
// The default is the process's limit (--limit image_pixels).
std::string check_image_header(std::span<const unsigned char> bytes,
                               const ImageLimits& limits = {input_limits().image_pixels});

// Decodes the file. Throws InputError(file, reason) when it is missing,
// truncated or undecodable. 16-bit samples are scaled to 8 bits.
Image read_image_file(const std::filesystem::path& file);

// All pages of a multi-page TIFF, each as an Image (for z-stacks).
std::vector<Image> read_image_pages(const std::filesystem::path& file);

}  // namespace mmb
