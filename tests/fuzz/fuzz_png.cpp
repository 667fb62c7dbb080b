// The PNG fast path (common/io/png_fast.*): any bytes either decode to an image of the
// size the header states or are declined (left to OpenCV); nothing is read out of bounds
// and no header makes it allocate more than its data can inflate to.
#include <cstdlib>
#include <span>

#include "common/io/png_fast.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mmb::Image img;
  if (mmb::decode_png_fast(std::span<const unsigned char>(data, size), img) &&
      img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * img.channels)
    std::abort();
  return 0;
}
