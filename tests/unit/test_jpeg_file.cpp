// decode_jpeg (common/io/jpeg_file.h) against OpenCV's decoder (the same
// libjpeg-turbo, driven by cv::imdecode): JPEGs of every chroma subsampling,
// baseline and progressive, with restart markers, grey and colour, odd sizes;
// read through read_image_file as well. (Warnings and errors: test_io.cpp, ImageFile.*)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include <cstdio>
#include <jpeglib.h>

#include "common/core/error.h"
#include "common/io/image_file.h"
#include "common/io/jpeg_file.h"

namespace mmb {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

cv::Mat test_picture(int w, int h, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  cv::Mat m(h, w, CV_8UC(channels));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        m.ptr<std::uint8_t>(y)[x * channels + c] =
            static_cast<std::uint8_t>(x * 2 + y * 3 + c * 60 + static_cast<int>(rng() % 40));
  return m;
}

// libjpeg's encoder with the chroma subsampling given as luma (h, v) factors.
Bytes encode_jpeg(const cv::Mat& m, int quality, int h_samp, int v_samp, bool progressive, int restart_rows) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(m.cols);
  c.image_height = static_cast<JDIMENSION>(m.rows);
  c.input_components = m.channels();
  c.in_color_space = m.channels() == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  if (m.channels() == 3) {
    c.comp_info[0].h_samp_factor = h_samp;
    c.comp_info[0].v_samp_factor = v_samp;
  }
  if (progressive) jpeg_simple_progression(&c);
  c.restart_in_rows = restart_rows;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(m.ptr(static_cast<int>(c.next_scanline)));
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  Bytes out(buf, buf + size);
  jpeg_destroy_compress(&c);
  std::free(buf);
  return out;
}

// OpenCV's pixels in RGB order (what read_image_file returned before the fast path).
Image opencv_pixels(const Bytes& jpeg) {
  const cv::Mat encoded(1, static_cast<int>(jpeg.size()), CV_8U, const_cast<unsigned char*>(jpeg.data()));
  cv::Mat m = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
  if (m.empty()) return {};
  if (m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  Image img(m.cols, m.rows, 1, m.channels());
  for (int y = 0; y < m.rows; ++y) std::copy(m.ptr(y), m.ptr(y) + img.width * img.channels, img.ptr(0, y));
  return img;
}

class JpegFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mmb_jpeg_file_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  Image read_via_file(const Bytes& bytes) {
    const fs::path f = dir_ / "image.jpg";
    std::ofstream(f, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return read_image_file(f);
  }
  fs::path dir_;
};

TEST_F(JpegFile, EverySubsamplingAndModeEqualsOpenCv) {
  unsigned seed = 1;
  int checked = 0;
  for (int channels : {1, 3})
    for (auto [w, h] : std::vector<std::pair<int, int>>{{600, 450}, {1, 1}, {17, 9}, {333, 217}})
      for (auto [hs, vs] : std::vector<std::pair<int, int>>{{2, 2}, {2, 1}, {1, 2}, {1, 1}})
        for (int progressive : {0, 1})
          for (int quality : {50, 95}) {
            if (channels == 1 && hs != 2) continue;  // one component: no chroma
            const cv::Mat m = test_picture(w, h, channels, seed++);
            const Bytes jpeg = encode_jpeg(m, quality, hs, vs, progressive, static_cast<int>(seed % 2) * 3);
            const std::string what = std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(channels) +
                                     " sampling " + std::to_string(hs) + "x" + std::to_string(vs) + " progressive " +
                                     std::to_string(progressive) + " quality " + std::to_string(quality);
            const Image ref = opencv_pixels(jpeg);
            ASSERT_FALSE(ref.empty()) << what;
            Image fast;
            ASSERT_TRUE(decode_jpeg(jpeg, fast)) << what;
            EXPECT_EQ(fast.width, ref.width) << what;
            EXPECT_EQ(fast.height, ref.height) << what;
            EXPECT_EQ(fast.channels, ref.channels) << what;
            EXPECT_TRUE(fast.pixels == ref.pixels) << what;
            EXPECT_TRUE(read_via_file(jpeg).pixels == ref.pixels) << what;
            ++checked;
          }
  EXPECT_GT(checked, 60);
}

}  // namespace
}  // namespace mmb
