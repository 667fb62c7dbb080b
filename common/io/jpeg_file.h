#pragma once
// JPEG decoding with libjpeg(-turbo) itself rather than through cv::imdecode, so
// that libjpeg's warnings reach the sidecar: OpenCV 4.6 leaves libjpeg's
// emit_message at its default, which prints "Corrupt JPEG data: ..." to stderr and
// keeps no per-image record (modules/imgcodecs/src/grfmt_jpeg.cpp).
#include <span>
#include <string>
#include <vector>

#include "common/core/image.h"

namespace mmb {

// Decodes a JPEG as OpenCV's IMREAD_UNCHANGED does (libjpeg's defaults: islow DCT,
// fancy upsampling), gray files to 1 channel and colour files to RGB, straight into
// the returned Image's pixels. Warnings go to add_decoder_warning, prefixed "libjpeg: ".
// Returns false, decoding nothing, for colour spaces libjpeg cannot turn into RGB
// (CMYK, YCCK: OpenCV converts those itself). Throws std::runtime_error with libjpeg's
// message when the data cannot be decoded.
bool decode_jpeg(std::span<const unsigned char> bytes, Image& out);

}  // namespace mmb
