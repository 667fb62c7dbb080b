#pragma once
// A direct JPEG decode for the JPEGs the 2D sources hold (DermaMNIST's HAM10000
// pictures, the Kermany OCT and X-ray scans, BloodMNIST's and RetinaMNIST's
// photographs): libjpeg (the libjpeg-turbo that
// OpenCV's own decoder uses) decodes straight into the Image in RGB order.
// Through cv::imdecode the same pixels were decoded as BGR, copied out of
// OpenCV's decoder and swapped back to RGB. OpenCV leaves every decoding choice
// at libjpeg's default (islow DCT, fancy upsampling), and so does this path, so
// the pixels are the same (tests/unit/test_jpeg_fast.cpp compares them).
//
// Only 1-component greyscale and 3-component YCbCr JPEGs are taken; CMYK, RGB
// and other colour spaces, and any file for which libjpeg reports an error or a
// warning (a corrupt or truncated stream), are left to OpenCV, which then
// decodes or rejects them as it always did.
#include <span>

#include "common/core/image.h"

namespace mmb {

// Decodes `jpeg` into `out` and returns true, or returns false (out unspecified)
// when the file is not one the fast path takes; never throws on bad data.
bool decode_jpeg_fast(std::span<const unsigned char> jpeg, Image& out);

}  // namespace mmb
