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
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/core/error.h"
#include "common/core/fd_io.h"
#include "common/io/files.h"

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
    return check_bytes(read_bytes(file));
  } catch (const InputError& e) {
    return e.reason();
  }
}

Image read_image_file(const fs::path& file) {
  const auto bytes = read_bytes(file);
  if (auto problem = check_bytes(bytes); !problem.empty()) throw InputError(file, problem);
  // The decoder writes into the thread's previous matrix when the new image
  // has the same size and type (OpenCV's documented reuse of imdecode's dst),
  // so same-sized images decode into pages that are already mapped.
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
