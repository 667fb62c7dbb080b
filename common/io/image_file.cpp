#include "common/io/image_file.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
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
    return check_bytes(read_bytes(file));
  } catch (const InputError& e) {
    return e.reason();
  }
}

Image read_image_file(const fs::path& file) {
  const auto bytes = read_bytes(file);
  if (auto problem = check_bytes(bytes); !problem.empty()) throw InputError(file, problem);
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
