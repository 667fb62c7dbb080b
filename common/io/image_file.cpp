#include "common/io/image_file.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <optional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/core/error.h"
#include "common/io/files.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

std::vector<unsigned char> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(file, fs::exists(file) ? "cannot open file" : "file is missing");
  const auto size = static_cast<std::size_t>(in.tellg());
  std::vector<unsigned char> bytes(size);
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw InputError(file, "read error");
  return bytes;
}

bool starts_with(const std::vector<unsigned char>& b, std::initializer_list<unsigned char> sig) {
  return b.size() >= sig.size() && std::equal(sig.begin(), sig.end(), b.begin());
}

const std::array<unsigned char, 12> kPngTrailer = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};

// libjpeg only warns about a truncated stream and pads the image with grey, and
// some PNG damage decodes without error, so the end markers are checked here.
std::string check_bytes(const std::vector<unsigned char>& b) {
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
std::optional<std::pair<std::uint64_t, std::uint64_t>> tiff_size(const std::vector<unsigned char>& b) {
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
std::optional<std::pair<std::uint64_t, std::uint64_t>> header_size(const std::vector<unsigned char>& b) {
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

std::string check_image_header(const std::vector<unsigned char>& bytes, const ImageLimits& limits) {
  const auto size = header_size(bytes);
  if (!size) return "";  // the decoder judges
  const auto [w, h] = *size;
  if (w == 0 || h == 0) return "image header states a zero size (" + std::to_string(w) + "x" + std::to_string(h) + ")";
  if (w > limits.max_pixels / h)
    return "image header states " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the limit of " +
           std::to_string(limits.max_pixels) + " (ImageLimits::max_pixels)";
  return "";
}

namespace {

Image to_image(const cv::Mat& decoded) {
  cv::Mat m = decoded;
  if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 1.0 / 257.0);
  else if (m.depth() != CV_8U) m.convertTo(m, CV_8U);
  if (m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2RGBA);
  if (!m.isContinuous()) m = m.clone();
  Image img(m.cols, m.rows, 1, m.channels());
  std::memcpy(img.pixels.data(), m.data, img.byte_size());
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

Image read_image_file(const fs::path& file) {
  const auto bytes = read_bytes(file);
  if (auto problem = check_bytes(bytes); !problem.empty()) throw InputError(file, problem);
  if (auto problem = check_image_header(bytes); !problem.empty()) throw InputError(file, problem);
  cv::Mat decoded;
  try {
    decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw InputError(file, std::string("cannot decode image (") + e.what() + ")");
  }
  if (decoded.empty()) throw InputError(file, "cannot decode image (corrupt data)");
  return to_image(decoded);
}

std::vector<Image> read_image_pages(const fs::path& file) {
  if (!fs::exists(file)) throw InputError(file, "file is missing");
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
