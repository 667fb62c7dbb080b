#pragma once
// 2D image files (PNG, JPEG, TIFF, BMP) read with OpenCV. Pixels come back as
// 8-bit, RGB order (not OpenCV's BGR), with whatever channel count the file has
// (1, 2 = gray+alpha, 3, 4 = RGBA); channel conversion is a separate op.
#include <filesystem>
#include <string>
#include <vector>

#include "common/core/image.h"

namespace mmb {

// Cheap integrity check without decoding: the file exists, is non-empty, has
// a known signature and (PNG, JPEG) its end marker. Returns "" when fine,
// otherwise the reason ("truncated PNG (no IEND chunk)").
std::string probe_image_file(const std::filesystem::path& file);

// Decodes the file. Throws InputError(file, reason) when it is missing,
// truncated or undecodable. 16-bit samples are scaled to 8 bits.
Image read_image_file(const std::filesystem::path& file);

// All pages of a multi-page TIFF, each as an Image (for z-stacks).
std::vector<Image> read_image_pages(const std::filesystem::path& file);

}  // namespace mmb
