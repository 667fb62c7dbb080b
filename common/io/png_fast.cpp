#include "common/io/png_fast.h"

#include <libdeflate.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "common/io/image_file.h"

namespace mmb {
namespace {

constexpr std::array<unsigned char, 8> kSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

std::uint32_t be32(const unsigned char* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// Ancillary chunks libpng (as OpenCV drives it) reads without changing the
// pixels: colour-space and gamma information (OpenCV sets no gamma
// correction), physical size, text, time, background, significant bits,
// histogram. Any other ancillary chunk sends the file to libpng.
bool informational(std::string_view type) {
  static constexpr std::string_view kTypes[] = {"gAMA", "cHRM", "sRGB", "iCCP", "pHYs", "tEXt", "zTXt",
                                                "iTXt", "tIME", "bKGD", "sBIT", "hIST", "sPLT", "eXIf"};
  return std::find(std::begin(kTypes), std::end(kTypes), type) != std::end(kTypes);
}

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

libdeflate_decompressor* thread_decompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(libdeflate_alloc_decompressor());
  return d.get();
}

// PNG's Paeth predictor (ISO/IEC 15948, 9.4).
inline int paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Undoes one row's filter (ISO/IEC 15948, 9.2): src is the filtered row, prev
// the previous unfiltered row (zeros for the first), dst the unfiltered row.
template <int Bpp>
bool unfilter_row(int filter, const std::uint8_t* src, const std::uint8_t* prev, std::uint8_t* dst, std::size_t n) {
  switch (filter) {
    case 0:
      std::memcpy(dst, src, n);
      return true;
    case 1:
      for (std::size_t i = 0; i < Bpp; ++i) dst[i] = src[i];
      for (std::size_t i = Bpp; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] + dst[i - Bpp]);
      return true;
    case 2:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] + prev[i]);
      return true;
    case 3:
      for (std::size_t i = 0; i < Bpp; ++i) dst[i] = static_cast<std::uint8_t>(src[i] + (prev[i] >> 1));
      for (std::size_t i = Bpp; i < n; ++i)
        dst[i] = static_cast<std::uint8_t>(src[i] + ((dst[i - Bpp] + prev[i]) >> 1));
      return true;
    case 4:
      for (std::size_t i = 0; i < Bpp; ++i) dst[i] = static_cast<std::uint8_t>(src[i] + prev[i]);
      for (std::size_t i = Bpp; i < n; ++i)
        dst[i] = static_cast<std::uint8_t>(src[i] + paeth(dst[i - Bpp], prev[i], prev[i - Bpp]));
      return true;
    default:
      return false;  // libpng: "bad adaptive filter value"
  }
}

template <int Bpp>
bool unfilter(const std::uint8_t* raw, std::size_t width, std::size_t height, std::uint8_t* out) {
  const std::size_t n = width * Bpp;
  thread_local std::vector<std::uint8_t> zeros;
  if (zeros.size() < n) zeros.assign(n, 0);
  const std::uint8_t* prev = zeros.data();
  for (std::size_t y = 0; y < height; ++y) {
    const std::uint8_t* row = raw + y * (n + 1);
    std::uint8_t* dst = out + y * n;
    if (!unfilter_row<Bpp>(row[0], row + 1, prev, dst, n)) return false;
    prev = dst;
  }
  return true;
}

}  // namespace

bool decode_png_fast(std::span<const unsigned char> png, Image& out) {
  if (png.size() < kSignature.size() || !std::equal(kSignature.begin(), kSignature.end(), png.begin())) return false;
  std::size_t pos = kSignature.size();
  std::uint32_t width = 0, height = 0;
  int channels = 0;
  // The IDAT data: a view of the file when it is one chunk, else gathered here.
  thread_local std::vector<unsigned char> gathered;
  gathered.clear();
  std::span<const unsigned char> idat;
  int idat_chunks = 0;
  bool idat_ended = false, iend = false;
  for (bool first = true; !iend; first = false) {
    if (png.size() - pos < 12) return false;
    const std::uint32_t length = be32(&png[pos]);
    if (length > png.size() - pos - 12) return false;
    const unsigned char* type = &png[pos + 4];
    const unsigned char* data = type + 4;
    const std::string_view name(reinterpret_cast<const char*>(type), 4);
    if (libdeflate_crc32(0, type, length + 4) != be32(data + length)) return false;
    pos += 12 + std::size_t{length};
    if (first != (name == "IHDR")) return false;
    if (name == "IHDR") {
      if (length != 13) return false;
      width = be32(data);
      height = be32(data + 4);
      const int depth = data[8], colour = data[9], compression = data[10], filter = data[11], interlace = data[12];
      if (depth != 8 || compression != 0 || filter != 0 || interlace != 0) return false;
      if (colour == 0) channels = 1;
      else if (colour == 2) channels = 3;
      else return false;
      if (width == 0 || height == 0 || width > 0x7FFFFFFFu || height > 0x7FFFFFFFu) return false;
      if (std::uint64_t{width} * height > ImageLimits{}.max_pixels) return false;  // read_image_file's limit
    } else if (name == "IDAT") {
      if (idat_ended) return false;  // IDAT chunks must be consecutive
      if (idat_chunks == 1) gathered.assign(idat.begin(), idat.end());
      if (idat_chunks >= 1) gathered.insert(gathered.end(), data, data + length);
      else idat = {data, length};
      ++idat_chunks;
    } else if (name == "IEND") {
      iend = true;
    } else {
      if (idat_chunks > 0) idat_ended = true;
      if (!(type[0] & 0x20) || !informational(name)) return false;  // critical (PLTE, ...) or unknown
    }
  }
  if (pos != png.size() || idat_chunks == 0) return false;
  if (idat_chunks > 1) idat = gathered;

  const std::size_t row_bytes = std::size_t{width} * channels;
  const std::size_t raw_size = (row_bytes + 1) * height;
  // DEFLATE expands at most about 1032:1 (zlib's FAQ): a header claiming more
  // than the stream can hold is not allocated for here.
  if (raw_size / 1032 > idat.size() + 64) return false;
  thread_local std::vector<std::uint8_t> raw;
  if (raw.size() < raw_size) raw.resize(raw_size);
  std::size_t used = 0;
  // No actual_out_nbytes: anything but exactly raw_size bytes is an error.
  if (libdeflate_zlib_decompress_ex(thread_decompressor(), idat.data(), idat.size(), raw.data(), raw_size, &used,
                                    nullptr) != LIBDEFLATE_SUCCESS ||
      used != idat.size())
    return false;
  out = Image(static_cast<int>(width), static_cast<int>(height), 1, channels);
  return channels == 1 ? unfilter<1>(raw.data(), width, height, out.pixels.data())
                       : unfilter<3>(raw.data(), width, height, out.pixels.data());
}

}  // namespace mmb
