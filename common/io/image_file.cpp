#include "common/io/image_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <span>
#include <optional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <tiffio.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "common/core/decoder_warnings.h"
#include "common/core/error.h"
#include "common/core/fd_io.h"
#include "common/io/files.h"
#include "common/io/jpeg_file.h"
#include "common/io/png_fast.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

// The file's bytes in a per-thread buffer that only ever grows: a build reads
// thousands of files of similar size, and a fresh zero-filled vector per file
// cost a page fault per 4 KiB and a memset each time (issue 12). The span is
// valid until the same thread reads the next file.
std::span<const unsigned char> read_bytes(const fs::path& file) {
  thread_local std::vector<unsigned char> buffer;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(file, fs::exists(file) ? "cannot open file" : "file is missing");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw InputError(file, "cannot open file");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (buffer.size() < size) buffer.resize(size);
  const bool ok = pread_fully(fd, buffer.data(), size, 0);
  ::close(fd);
  if (!ok) throw InputError(file, errno == 0 ? "file shrank while being read" : "read error");
  return {buffer.data(), size};
}

bool starts_with(std::span<const unsigned char> b, std::initializer_list<unsigned char> sig) {
  return b.size() >= sig.size() && std::equal(sig.begin(), sig.end(), b.begin());
}

const std::array<unsigned char, 12> kPngTrailer = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};

// libjpeg only warns about a truncated stream and pads the image with grey, and
// some PNG damage decodes without error, so the end markers are checked here.
std::string check_bytes(std::span<const unsigned char> b) {
  if (b.empty()) return "empty file";
  if (starts_with(b, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) {
    if (b.size() < 12 || !std::equal(kPngTrailer.begin(), kPngTrailer.end(), b.end() - 12))
      return "truncated PNG (no IEND chunk)";
    return "";
  }
  if (starts_with(b, {0xFF, 0xD8})) {
    // Some writers append padding after the end-of-image marker; look near the end.
    const std::size_t tail = std::min<std::size_t>(b.size(), 4096);
    for (std::size_t i = b.size() - 1; i + tail > b.size() && i > 0; --i)
      if (b[i - 1] == 0xFF && b[i] == 0xD9) return "";
    return "truncated JPEG (no end-of-image marker)";
  }
  if (starts_with(b, {'I', 'I', 42, 0}) || starts_with(b, {'M', 'M', 0, 42}) || starts_with(b, {'B', 'M'}))
    return "";
  return "not a PNG, JPEG, TIFF or BMP file";
}

std::uint32_t be32(const unsigned char* p) { return std::uint32_t(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
std::uint32_t le32(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | std::uint32_t(p[3]) << 24; }
std::uint16_t be16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// Width and height from a TIFF's first IFD (tags 256, 257), or nothing if unreadable.
std::optional<std::pair<std::uint64_t, std::uint64_t>> tiff_size(std::span<const unsigned char> b) {
  const bool little = b[0] == 'I';
  const auto u16 = [&](std::size_t o) -> std::uint32_t { return little ? b[o] | b[o + 1] << 8 : b[o] << 8 | b[o + 1]; };
  const auto u32 = [&](std::size_t o) { return little ? le32(&b[o]) : be32(&b[o]); };
  if (b.size() < 8) return std::nullopt;
  const std::size_t ifd = u32(4);
  if (ifd + 2 > b.size()) return std::nullopt;
  std::uint64_t w = 0, h = 0;
  const std::size_t n = u16(ifd);
  for (std::size_t i = 0; i < n && ifd + 2 + 12 * (i + 1) <= b.size(); ++i) {
    const std::size_t e = ifd + 2 + 12 * i;
    const std::uint32_t tag = u16(e), type = u16(e + 2);
    const std::uint64_t v = type == 3 ? u16(e + 8) : u32(e + 8);
    if (tag == 256) w = v;
    if (tag == 257) h = v;
  }
  if (!w || !h) return std::nullopt;
  return std::pair{w, h};
}

// Width and height as the file's header states them (PNG IHDR, JPEG SOFn, TIFF IFD,
// BMP info header), or nothing when the header does not say.
std::optional<std::pair<std::uint64_t, std::uint64_t>> header_size(std::span<const unsigned char> b) {
  if (starts_with(b, {0x89, 'P', 'N', 'G'}) && b.size() >= 24) return std::pair<std::uint64_t, std::uint64_t>{be32(&b[16]), be32(&b[20])};
  if (starts_with(b, {'B', 'M'}) && b.size() >= 26) {
    const auto h = static_cast<std::int32_t>(le32(&b[22]));
    return std::pair<std::uint64_t, std::uint64_t>{le32(&b[18]), static_cast<std::uint64_t>(h < 0 ? -std::int64_t{h} : h)};
  }
  if (starts_with(b, {'I', 'I'}) || starts_with(b, {'M', 'M'})) return tiff_size(b);
  if (starts_with(b, {0xFF, 0xD8})) {
    for (std::size_t i = 2; i + 9 < b.size();) {
      if (b[i] != 0xFF) return std::nullopt;
      const unsigned char marker = b[i + 1];
      if (marker == 0xFF) { ++i; continue; }
      const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
      if (sof) return std::pair<std::uint64_t, std::uint64_t>{be16(&b[i + 7]), be16(&b[i + 5])};
      if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) { i += 2; continue; }
      i += 2 + be16(&b[i + 2]);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string check_image_header(std::span<const unsigned char> bytes, const ImageLimits& limits) {
  const auto size = header_size(bytes);
  if (!size) return "";  // the decoder judges
  const auto [w, h] = *size;
  if (w == 0 || h == 0) return "image header states a zero size (" + std::to_string(w) + "x" + std::to_string(h) + ")";
  if (w > limits.max_pixels / h)
    return "image header states " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the limit of " +
           std::to_string(limits.max_pixels) + " (--limit image_pixels)";
  return "";
}

namespace {

// Converts OpenCV's decoded matrix (any depth, BGR order) straight into the
// Image's own pixels: the last operation writes into a cv::Mat header over
// img.pixels, so there is no intermediate full-size matrix.
Image to_image(const cv::Mat& decoded) {
  const int channels = decoded.channels();
  Image img(decoded.cols, decoded.rows, 1, channels);
  cv::Mat out(decoded.rows, decoded.cols, CV_MAKETYPE(CV_8U, channels), img.pixels.data());
  const cv::Mat* src = &decoded;
  cv::Mat depth8;
  if (decoded.depth() != CV_8U) {
    const double scale = decoded.depth() == CV_16U ? 1.0 / 257.0 : 1.0;
    if (channels == 3 || channels == 4) {
      decoded.convertTo(depth8, CV_8U, scale);
      src = &depth8;
    } else {
      decoded.convertTo(out, CV_8U, scale);  // out keeps its buffer: same size and type
      return img;
    }
  }
  if (channels == 3) cv::cvtColor(*src, out, cv::COLOR_BGR2RGB);
  else if (channels == 4) cv::cvtColor(*src, out, cv::COLOR_BGRA2RGBA);
  else src->copyTo(out);
  if (out.data != img.pixels.data()) throw std::logic_error("image conversion reallocated its output");
  return img;
}

}  // namespace

std::string probe_image_file(const fs::path& file) {
  if (!fs::exists(file)) return "file is missing";
  try {
    const auto bytes = read_bytes(file);
    if (auto problem = check_bytes(bytes); !problem.empty()) return problem;
    return check_image_header(bytes);
  } catch (const InputError& e) {
    return e.reason();
  }
}

namespace {

// libtiff calls the library-wide handler *and* the "Ext" handler for every warning
// (tif_warning.c, TIFFWarningExtR); OpenCV 4.6 installs only the former (to silence
// it, grfmt_tiff.cpp), so the Ext handler is ours. libtiff calls it on the decoding
// thread, which is the sample's thread.
extern "C" void on_tiff_warning(thandle_t, const char* module, const char* fmt, va_list ap) {
  char text[512];
  std::vsnprintf(text, sizeof text, fmt, ap);
  add_decoder_warning(std::string("libtiff: ") + (module ? module + std::string(": ") : "") + text);
}

void keep_tiff_warnings() {
  static std::once_flag once;
  std::call_once(once, [] { TIFFSetWarningHandlerExt(on_tiff_warning); });
}

// JPEG through libjpeg itself (jpeg_file.h), so its warnings are kept. Returns false
// for the colour spaces left to OpenCV.
bool read_jpeg(const fs::path& file, std::span<const unsigned char> bytes, Image& img) {
  try {
    return decode_jpeg(bytes, img);
  } catch (const std::runtime_error& e) {
    throw InputError(file, std::string("cannot decode image (") + e.what() + ")");
  }
}

}  // namespace

Image read_image_file(const fs::path& file) {
  const auto bytes = read_bytes(file);
  if (auto problem = check_bytes(bytes); !problem.empty()) throw InputError(file, problem);
  // The decoder writes into the thread's previous matrix when the new image
  // has the same size and type (OpenCV's documented reuse of imdecode's dst),
  // so same-sized images decode into pages that are already mapped.
  if (auto problem = check_image_header(bytes); !problem.empty()) throw InputError(file, problem);
  // 8-bit grey and RGB PNGs without transparency: inflated in one call and
  // unfiltered straight into the Image; anything else goes to OpenCV.
  if (Image img; decode_png_fast(bytes, img)) return img;
  if (Image img; starts_with(bytes, {0xFF, 0xD8}) && read_jpeg(file, bytes, img)) return img;
  keep_tiff_warnings();
  thread_local cv::Mat decoded;
  try {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, const_cast<unsigned char*>(bytes.data()));
    cv::imdecode(encoded, cv::IMREAD_UNCHANGED, &decoded);
  } catch (const cv::Exception& e) {
    throw InputError(file, std::string("cannot decode image (") + e.what() + ")");
  }
  if (decoded.empty()) throw InputError(file, "cannot decode image (corrupt data)");
  return to_image(decoded);
}

std::vector<Image> read_image_pages(const fs::path& file) {
  if (!fs::exists(file)) throw InputError(file, "file is missing");
  keep_tiff_warnings();
  std::vector<cv::Mat> pages;
  bool ok = false;
  try {
    ok = cv::imreadmulti(file.string(), pages, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw InputError(file, std::string("cannot decode image (") + e.what() + ")");
  }
  if (!ok || pages.empty()) throw InputError(file, "cannot decode multi-page image");
  std::vector<Image> images;
  for (const auto& p : pages) images.push_back(to_image(p));
  return images;
}

}  // namespace mmb
