#pragma once
// A fast path for the PNGs the 2D sources hold (ChestMNIST's 1024 x 1024 NIH
// images, BreastMNIST's BUSI scans): 8-bit grey or RGB, not interlaced, no
// transparency. Their zlib stream is inflated in one call with
// libdeflate (a whole-buffer inflater, about twice zlib's speed; the size of
// the inflated data is known from the header) straight into a buffer of the
// final size, and the five PNG row filters are undone in place into the
// Image. A PNG decodes to exactly one array of pixels, so the result is the
// one libpng gives through OpenCV (tests/unit/test_png_fast.cpp compares them).
//
// Anything else, and anything doubtful, is left to OpenCV: other bit depths
// and colour types, interlacing, a tRNS chunk, an ancillary chunk not in the
// list of purely informational ones, a bad chunk CRC, a zlib stream that does
// not inflate to exactly the expected size or has bytes after its end, a bad
// filter byte. libpng then decodes or rejects the file as it always did.
#include <span>

#include "common/core/image.h"

namespace mmb {

// Decodes `png` into `out` and returns true, or returns false (out unspecified)
// when the file is not one the fast path takes; never throws on bad data.
bool decode_png_fast(std::span<const unsigned char> png, Image& out);

}  // namespace mmb
