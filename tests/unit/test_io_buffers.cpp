// Per-thread buffer reuse in image reading (issue 12): reading files of other
// sizes and types in between gives the same pixels as a fresh read, a
// truncated small file after a large one is still caught, and repeated reads
// of same-sized images touch no fresh pages once the allocator keeps freed
// memory.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "common/core/allocator.h"
#include "common/core/error.h"
#include "common/io/image_file.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() / ("mmb-io-buffers-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

cv::Mat noise(int rows, int cols, int type, int seed) {
  cv::Mat m(rows, cols, type);
  cv::theRNG().state = seed;
  if (CV_MAT_DEPTH(type) == CV_16U) cv::randu(m, 0, 65535);
  else cv::randu(m, 0, 255);
  return m;
}

// Files of different sizes, depths and channel counts.
std::vector<fs::path> write_files(const fs::path& dir) {
  std::vector<fs::path> files;
  auto add = [&](const std::string& name, const cv::Mat& m) {
    files.push_back(dir / name);
    cv::imwrite(files.back().string(), m);
  };
  add("big_gray.png", noise(700, 900, CV_8UC1, 1));
  add("small_rgb.png", noise(31, 47, CV_8UC3, 2));
  add("gray16.png", noise(120, 80, CV_16UC1, 3));
  add("rgba.png", noise(64, 64, CV_8UC4, 4));
  add("rgb.jpg", noise(450, 600, CV_8UC3, 5));
  add("rgb16.png", noise(40, 30, CV_16UC3, 6));
  add("big_gray_again.png", noise(700, 900, CV_8UC1, 7));
  return files;
}

Image read_on_a_fresh_thread(const fs::path& file) {
  Image img;
  std::thread([&] { img = read_image_file(file); }).join();
  return img;
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

}  // namespace

TEST(ImageBuffers, ReusedBuffersGiveTheSamePixelsAsAFreshThread) {
  const fs::path dir = temp_dir();
  const auto files = write_files(dir);
  std::vector<Image> fresh;
  for (const auto& f : files) fresh.push_back(read_on_a_fresh_thread(f));
  for (int round = 0; round < 2; ++round)
    for (std::size_t i = 0; i < files.size(); ++i) {
      const std::size_t k = round == 0 ? i : files.size() - 1 - i;  // both orders: growing and shrinking sizes
      const Image img = read_image_file(files[k]);
      EXPECT_EQ(img.width, fresh[k].width) << files[k];
      EXPECT_EQ(img.height, fresh[k].height) << files[k];
      EXPECT_EQ(img.channels, fresh[k].channels) << files[k];
      EXPECT_EQ(img.pixels, fresh[k].pixels) << files[k];
    }
  fs::remove_all(dir);
}

TEST(ImageBuffers, PixelsAreRgbOrderAnd16BitScaledLikeOpenCv) {
  const fs::path dir = temp_dir();
  const auto files = write_files(dir);
  // Independent of the reader: OpenCV's own imread, converted here step by step.
  for (const auto& f : files) {
    cv::Mat m = cv::imread(f.string(), cv::IMREAD_UNCHANGED);
    if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 1.0 / 257.0);
    if (m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
    if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2RGBA);
    const Image img = read_image_file(f);
    ASSERT_EQ(img.byte_size(), m.total() * m.elemSize()) << f;
    EXPECT_TRUE(std::equal(img.pixels.begin(), img.pixels.end(), m.data)) << f;
  }
  fs::remove_all(dir);
}

TEST(ImageBuffers, ATruncatedSmallFileAfterALargeOneIsStillCaught) {
  const fs::path dir = temp_dir();
  const auto files = write_files(dir);
  const fs::path cut = dir / "cut.png";
  fs::copy_file(files[1], cut);
  fs::resize_file(cut, fs::file_size(cut) - 20);  // loses the IEND chunk
  read_image_file(files[0]);  // the buffer now holds a complete, larger PNG
  try {
    read_image_file(cut);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), cut);
    EXPECT_NE(e.reason().find("truncated PNG"), std::string::npos) << e.reason();
  }
  EXPECT_EQ(probe_image_file(cut), "truncated PNG (no IEND chunk)");
  fs::remove_all(dir);
}

TEST(ImageBuffers, SameSizedImagesTouchNoFreshPagesOnceWarm) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer replaces malloc: mallopt has no effect and freed memory is quarantined";
#endif
  ASSERT_TRUE(keep_freed_memory_for_reuse());
  const fs::path dir = temp_dir();
  std::vector<fs::path> files;
  for (int i = 0; i < 4; ++i) {
    files.push_back(dir / ("chest" + std::to_string(i) + ".png"));
    cv::imwrite(files.back().string(), noise(1024, 1024, CV_8UC1, 10 + i));
  }
  for (const auto& f : files) read_image_file(f);  // warm: buffers and heap reach their size
  const long before = minor_faults();
  constexpr int kReads = 20;
  for (int r = 0; r < kReads; ++r) {
    const Image img = read_image_file(files[r % files.size()]);
    ASSERT_EQ(img.byte_size(), 1024u * 1024u);
  }
  // A fresh 1 MiB image per read would fault 256 pages each time.
  EXPECT_LT(minor_faults() - before, kReads * 256 / 8);
  fs::remove_all(dir);
}
