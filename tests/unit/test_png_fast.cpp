// The PNG fast path (common/io/png_fast.h) against libpng through OpenCV:
// PNGs written here row filter by row filter (every filter on grey and RGB,
// one or many IDAT chunks, informational chunks before and after the data),
// PNGs written by libpng itself, and the files the fast path must leave to
// OpenCV (other formats, anything doubtful), whose decoding must not change.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/io/image_file.h"
#include "common/io/png_fast.h"

namespace mmb {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

void put_be32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}

void put_chunk(Bytes& png, const std::string& type, const Bytes& data) {
  put_be32(png, static_cast<std::uint32_t>(data.size()));
  Bytes body(type.begin(), type.end());
  body.insert(body.end(), data.begin(), data.end());
  png.insert(png.end(), body.begin(), body.end());
  put_be32(png, static_cast<std::uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size()))));
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c);
}

// Pixels (rows of w * channels bytes) filtered row by row with filters[y % size].
Bytes filtered(const Bytes& pixels, int w, int h, int channels, const std::vector<int>& filters) {
  const std::size_t n = static_cast<std::size_t>(w) * channels;
  Bytes out;
  for (int y = 0; y < h; ++y) {
    const int f = filters[y % filters.size()];
    out.push_back(static_cast<unsigned char>(f));
    const unsigned char* cur = &pixels[y * n];
    for (std::size_t i = 0; i < n; ++i) {
      const int a = i >= static_cast<std::size_t>(channels) ? cur[i - channels] : 0;
      const int b = y > 0 ? cur[i - n] : 0;
      const int c = y > 0 && i >= static_cast<std::size_t>(channels) ? cur[i - n - channels] : 0;
      const int pred = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : paeth(a, b, c);
      out.push_back(static_cast<unsigned char>(cur[i] - pred));
    }
  }
  return out;
}

struct PngSpec {
  int w = 0, h = 0, channels = 1;
  std::vector<int> filters{0, 1, 2, 3, 4};
  int idat_chunks = 1;
  std::vector<std::pair<std::string, Bytes>> before, after;  // chunks before / after the IDATs
  int depth = 8, colour = -1, interlace = 0;
  int header_h = -1;  // the height IHDR states, if not h
  bool extra_after_stream = false;
};

Bytes encode(const Bytes& pixels, const PngSpec& s) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Bytes ihdr;
  put_be32(ihdr, static_cast<std::uint32_t>(s.w));
  put_be32(ihdr, static_cast<std::uint32_t>(s.header_h >= 0 ? s.header_h : s.h));
  ihdr.push_back(static_cast<unsigned char>(s.depth));
  ihdr.push_back(static_cast<unsigned char>(s.colour >= 0 ? s.colour : (s.channels == 1 ? 0 : 2)));
  ihdr.insert(ihdr.end(), {0, 0, static_cast<unsigned char>(s.interlace)});
  put_chunk(png, "IHDR", ihdr);
  for (const auto& [type, data] : s.before) put_chunk(png, type, data);
  const Bytes raw = filtered(pixels, s.w, s.h, s.channels, s.filters);
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  Bytes z(size);
  EXPECT_EQ(compress2(z.data(), &size, raw.data(), static_cast<uLong>(raw.size()), 6), Z_OK);
  z.resize(size);
  if (s.extra_after_stream) z.insert(z.end(), {0, 0, 0, 0});
  const std::size_t part = (z.size() + s.idat_chunks - 1) / s.idat_chunks;
  for (std::size_t at = 0; at < z.size(); at += part)
    put_chunk(png, "IDAT", Bytes(z.begin() + at, z.begin() + std::min(z.size(), at + part)));
  for (const auto& [type, data] : s.after) put_chunk(png, type, data);
  put_chunk(png, "IEND", {});
  return png;
}

// cHRM with the sRGB primaries and white point (x, y times 100000).
Bytes chrm_srgb() {
  Bytes b;
  for (std::uint32_t v : {31270u, 32900u, 64000u, 33000u, 30000u, 60000u, 15000u, 6000u}) put_be32(b, v);
  return b;
}

Bytes random_pixels(int w, int h, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  Bytes p(static_cast<std::size_t>(w) * h * channels);
  // Smooth ramps plus noise, so every filter predicts something.
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        p[(static_cast<std::size_t>(y) * w + x) * channels + c] =
            static_cast<unsigned char>(x * 3 + y * 5 + c * 40 + static_cast<int>(rng() % 23));
  return p;
}

// libpng's pixels through OpenCV, in file channel order (RGB, not BGR).
Image reference(const Bytes& png) {
  const cv::Mat encoded(1, static_cast<int>(png.size()), CV_8U, const_cast<unsigned char*>(png.data()));
  cv::Mat m = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
  if (m.empty()) return {};
  if (m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2RGBA);
  Image img(m.cols, m.rows, 1, m.channels());
  if (m.depth() != CV_8U) return {};
  std::copy(m.data, m.data + img.byte_size(), img.pixels.begin());
  return img;
}

class PngFast : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mmb_png_fast_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Image read_via_file(const Bytes& png) {
    const fs::path f = dir_ / "image.png";
    std::ofstream(f, std::ios::binary).write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
    return read_image_file(f);
  }

  // The fast path takes the file and gives libpng's pixels; read_image_file too.
  void expect_fast_and_equal(const Bytes& png, const std::string& what) {
    const Image ref = reference(png);
    ASSERT_FALSE(ref.empty()) << what << ": libpng rejects the test PNG";
    Image fast;
    ASSERT_TRUE(decode_png_fast(png, fast)) << what;
    EXPECT_EQ(fast.width, ref.width) << what;
    EXPECT_EQ(fast.height, ref.height) << what;
    EXPECT_EQ(fast.channels, ref.channels) << what;
    EXPECT_TRUE(fast.pixels == ref.pixels) << what;
    EXPECT_TRUE(read_via_file(png).pixels == ref.pixels) << what;
  }

  fs::path dir_;
};

TEST_F(PngFast, EveryFilterOnGreyAndRgbEqualsLibpng) {
  unsigned seed = 1;
  for (int channels : {1, 3})
    for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {2, 3}, {17, 5}, {333, 77}, {1024, 64}})
      for (const std::vector<int>& filters : std::vector<std::vector<int>>{{0}, {1}, {2}, {3}, {4}, {4, 3, 2, 1, 0}}) {
        PngSpec s;
        s.w = w, s.h = h, s.channels = channels, s.filters = filters;
        s.idat_chunks = (seed % 3) + 1;
        const std::string what = std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(channels) +
                                 " filter " + std::to_string(filters.front()) + " in " + std::to_string(s.idat_chunks) +
                                 " IDAT";
        expect_fast_and_equal(encode(random_pixels(w, h, channels, seed++), s), what);
      }
}

TEST_F(PngFast, InformationalChunksAndManyIdatChunksAreRead) {
  PngSpec s;
  s.w = 200, s.h = 150, s.channels = 3, s.idat_chunks = 40;
  s.before = {{"gAMA", {0, 0, 0xB1, 0x8F}}, {"sBIT", {5, 6, 5}},  {"cHRM", chrm_srgb()},
              {"bKGD", {0, 10, 0, 20, 0, 30}}, {"pHYs", {0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1}},
              {"tEXt", {'k', 0, 'v'}}};
  s.after = {{"tEXt", {'a', 0, 'b'}}, {"tIME", {0x07, 0xEA, 12, 3, 1, 2, 3}}};
  expect_fast_and_equal(encode(random_pixels(s.w, s.h, 3, 7), s), "RGB with gAMA, sBIT, cHRM, bKGD, pHYs, tEXt, tIME");
}

TEST_F(PngFast, LibpngWrittenPngsEqualLibpng) {
  // libpng's own encoder (adaptive filters), every compression level and strategy OpenCV offers.
  for (int channels : {1, 3})
    for (int level : {0, 1, 6, 9})
      for (int strategy : {cv::IMWRITE_PNG_STRATEGY_DEFAULT, cv::IMWRITE_PNG_STRATEGY_FILTERED,
                           cv::IMWRITE_PNG_STRATEGY_RLE}) {
        const int w = 257, h = 129;
        const Bytes pixels = random_pixels(w, h, channels, static_cast<unsigned>(level * 10 + strategy));
        cv::Mat m(h, w, CV_8UC(channels), const_cast<unsigned char*>(pixels.data()));
        Bytes png;
        ASSERT_TRUE(cv::imencode(".png", m, png, {cv::IMWRITE_PNG_COMPRESSION, level, cv::IMWRITE_PNG_STRATEGY, strategy}));
        expect_fast_and_equal(png, "libpng level " + std::to_string(level) + " strategy " + std::to_string(strategy) +
                                       " channels " + std::to_string(channels));
      }
}

TEST_F(PngFast, DoubtfulOrOtherPngsAreLeftToLibpng) {
  const int w = 40, h = 30;
  const Bytes grey = random_pixels(w, h, 1, 3), rgb = random_pixels(w, h, 3, 4);
  PngSpec g;
  g.w = w, g.h = h;
  PngSpec c = g;
  c.channels = 3;
  // Each case: the PNG, and whether libpng decodes it (then read_image_file must equal it).
  std::vector<std::tuple<std::string, Bytes, bool>> cases;
  {
    PngSpec s = c;
    s.before = {{"tRNS", {0, 1, 0, 2, 0, 3}}};
    cases.emplace_back("RGB with tRNS (four channels in OpenCV)", encode(rgb, s), true);
  }
  {
    PngSpec s = g;
    s.before = {{"zzZz", {1, 2, 3}}};
    cases.emplace_back("unknown ancillary chunk", encode(grey, s), true);
  }
  {
    PngSpec s = g;
    s.filters = {5};
    cases.emplace_back("filter byte 5", encode(grey, s), false);
  }
  {
    PngSpec s = g;
    s.extra_after_stream = true;
    cases.emplace_back("bytes after the zlib stream", encode(grey, s), true);
  }
  {
    PngSpec s = g;
    s.header_h = h - 1;  // the stream holds one row more than the header says
    cases.emplace_back("more data than the header says", encode(grey, s), true);
  }
  {
    PngSpec s = g;
    s.header_h = h + 1;  // one row short
    cases.emplace_back("less data than the header says", encode(grey, s), false);
  }
  {
    Bytes png = encode(grey, g);
    png[8 + 8 + 7] ^= 1;  // IHDR height, CRC left as it was
    cases.emplace_back("IHDR CRC wrong", png, false);
  }
  {
    Bytes png = encode(grey, g);
    png[png.size() - 20] ^= 0x40;  // inside the last IDAT: zlib or CRC error
    cases.emplace_back("corrupt IDAT", png, false);
  }
  {
    PngSpec s = g;
    s.idat_chunks = 2;
    Bytes png = encode(grey, s);
    cases.emplace_back("two IDAT chunks (taken)", png, true);
  }
  for (const auto& [what, png, libpng_reads] : cases) {
    Image fast;
    if (what == "two IDAT chunks (taken)") {
      EXPECT_TRUE(decode_png_fast(png, fast)) << what;
      continue;
    }
    EXPECT_FALSE(decode_png_fast(png, fast)) << what;
    const Image ref = reference(png);
    if (libpng_reads && !ref.empty()) {
      EXPECT_TRUE(read_via_file(png).pixels == ref.pixels) << what;
    } else {
      EXPECT_THROW(read_via_file(png), InputError) << what;
    }
  }
}

TEST_F(PngFast, OtherFormatsAndDepthsAreNotTaken) {
  const int w = 20, h = 10;
  const Bytes grey = random_pixels(w, h, 1, 5);
  cv::Mat m16(h, w, CV_16UC1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m16.at<std::uint16_t>(y, x) = static_cast<std::uint16_t>(x * 3000 + y);
  Bytes png16, rgba, jpeg;
  ASSERT_TRUE(cv::imencode(".png", m16, png16));
  cv::Mat m4(h, w, CV_8UC4, cv::Scalar(1, 2, 3, 4));
  ASSERT_TRUE(cv::imencode(".png", m4, rgba));
  cv::Mat m1(h, w, CV_8UC1, const_cast<unsigned char*>(grey.data()));
  ASSERT_TRUE(cv::imencode(".jpg", m1, jpeg));
  PngSpec interlaced;
  interlaced.w = w, interlaced.h = h, interlaced.interlace = 1;
  for (const auto& [what, bytes] : std::vector<std::pair<std::string, Bytes>>{
           {"16-bit", png16}, {"RGBA", rgba}, {"JPEG", jpeg}, {"interlace flag", encode(grey, interlaced)}}) {
    Image fast;
    EXPECT_FALSE(decode_png_fast(bytes, fast)) << what;
  }
  // 16-bit still decodes (scaled to 8 bits) through OpenCV.
  EXPECT_EQ(read_via_file(png16).channels, 1);
  EXPECT_EQ(read_via_file(rgba).channels, 4);
}

}  // namespace
}  // namespace mmb
