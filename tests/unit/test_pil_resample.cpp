// common/ops/pil_resample: every pil-* kernel against Debian's python3-pil
// (Image.resize through tests/unit/ref/pil_ref.py), gray and RGB, from the
// MedMNIST source sizes to every MedMNIST size: zero differing pixels.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/ops/pil_resample.h"
#include "common/ops/resize.h"

namespace mmb {
namespace {

namespace fs = std::filesystem;

void write_npy_u8(const fs::path& path, const Image& img) {
  std::string shape = std::to_string(img.height) + ", " + std::to_string(img.width);
  if (img.channels > 1) shape += ", " + std::to_string(img.channels);
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + shape + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ').push_back('\n');
  std::ofstream out(path, std::ios::binary);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char*>(&len), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(img.pixels.data()), static_cast<std::streamsize>(img.pixels.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// The payload of a uint8 .npy written by np.save (the shape is checked by the caller's size).
std::vector<std::uint8_t> read_npy_u8(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[10];
  in.read(magic, 10);
  if (!in || std::string(magic, 6) != "\x93NUMPY" || magic[6] != 1) throw std::runtime_error("bad npy " + path.string());
  const std::uint16_t len = static_cast<std::uint8_t>(magic[8]) | (static_cast<std::uint8_t>(magic[9]) << 8);
  std::string header(len, '\0');
  in.read(header.data(), len);
  if (header.find("|u1") == std::string::npos) throw std::runtime_error("not uint8: " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Noise over a smooth ramp, with hard 0/255 bars so that bicubic and Lanczos
// overshoot and the clamp is exercised.
Image test_image(int w, int h, int channels, unsigned seed) {
  Image img(w, h, 1, channels);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(-40, 40);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) {
        int v = (x * 255) / w / 2 + (y * 127) / h + c * 20 + noise(rng);
        if ((x / 3) % 7 == 0) v = (y / 5) % 2 ? 255 : 0;
        img.at(x, y, 0, c) = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
      }
  return img;
}

struct Job {
  Image input;
  fs::path in, out;
  int w, h;
  ResizeKernel kernel;
  std::string pil_name;
};

class PilResample : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mmb_test_pil_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs Pillow on every job in one process, then compares each with ours.
  void check(const std::vector<Job>& jobs) {
    std::string cmd = std::string("/usr/bin/python3 ") + MMB_SOURCE_DIR + "/tests/unit/ref/pil_ref.py";
    for (const Job& j : jobs)
      cmd += " " + j.in.string() + ":" + j.out.string() + ":" + std::to_string(j.w) + ":" + std::to_string(j.h) +
             ":" + j.pil_name;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    for (const Job& j : jobs) {
      const Image ours = resize(j.input, j.w, j.h, 1, j.kernel);
      const auto ref = read_npy_u8(j.out);
      ASSERT_EQ(ref.size(), ours.pixels.size()) << j.out;
      std::size_t differing = 0;
      for (std::size_t i = 0; i < ref.size(); ++i) differing += ref[i] != ours.pixels[i];
      EXPECT_EQ(differing, 0u) << resize_kernel_name(j.kernel) << " " << j.input.width << "x" << j.input.height
                               << "x" << j.input.channels << " -> " << j.w << "x" << j.h;
    }
  }

  fs::path dir_;
};

const std::vector<std::pair<ResizeKernel, std::string>> kFilters{
    {ResizeKernel::PilNearest, "NEAREST"},   {ResizeKernel::PilBox, "BOX"},
    {ResizeKernel::PilBilinear, "BILINEAR"}, {ResizeKernel::PilHamming, "HAMMING"},
    {ResizeKernel::PilBicubic, "BICUBIC"},   {ResizeKernel::PilLanczos, "LANCZOS"}};

TEST_F(PilResample, EveryFilterMatchesPillowFromMedmnistSourceSizes) {
  // Chest 1024^2, Derma 600x450, Path 224^2, Blood's 200^2 crop, Pneumonia's
  // smallest crop 127^2 (upsampled), Tissue's 32^2 projection, Blood's raw
  // 360x363, and odd sizes on both axes.
  const std::vector<std::pair<int, int>> sources{{1024, 1024}, {600, 450}, {224, 224}, {200, 200}, {127, 127},
                                                 {32, 32},     {360, 363}, {333, 517}, {29, 31}};
  std::vector<Job> jobs;
  unsigned seed = 1;
  for (int channels : {1, 3})
    for (auto [w, h] : sources) {
      const Image img = test_image(w, h, channels, seed++);
      const fs::path in = dir_ / ("in_" + std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(channels) + ".npy");
      write_npy_u8(in, img);
      for (int s : {28, 64, 128, 224})
        for (const auto& [kernel, name] : kFilters)
          jobs.push_back({img, in, dir_ / ("out_" + std::to_string(jobs.size()) + ".npy"), s, s, kernel, name});
    }
  check(jobs);
}

TEST_F(PilResample, NonSquareOutputsAndOneAxisOnly) {
  // One axis unchanged skips that pass in Pillow (no second rounding).
  std::vector<Job> jobs;
  const Image img = test_image(300, 200, 3, 99);
  const fs::path in = dir_ / "in.npy";
  write_npy_u8(in, img);
  for (auto [w, h] : std::vector<std::pair<int, int>>{{300, 28}, {28, 200}, {1, 1}, {45, 17}, {301, 199}, {900, 7}})
    for (const auto& [kernel, name] : kFilters)
      jobs.push_back({img, in, dir_ / ("out_" + std::to_string(jobs.size()) + ".npy"), w, h, kernel, name});
  check(jobs);
}

TEST(PilResampleApi, TransposeEqualsTheDefinitionForEveryShapeAndChannelCount) {
  // The 1-channel SSE2 blocks cover whole 32 x 32 tiles; partial tiles and
  // other channel counts take the scalar loops. Compared with the definition.
  std::mt19937 rng(3);
  for (int channels : {1, 2, 3, 4, 5})
    for (auto [w, h] : std::vector<std::pair<int, int>>{
             {1, 1}, {16, 16}, {32, 32}, {64, 32}, {33, 31}, {224, 224}, {1024, 96}, {100, 257}, {7, 300}}) {
      std::vector<std::uint8_t> src(static_cast<std::size_t>(w) * h * channels), dst(src.size(), 0);
      for (auto& b : src) b = static_cast<std::uint8_t>(rng());
      pil_detail::transpose_pixels(src.data(), w, h, channels, dst.data());
      std::size_t wrong = 0;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < channels; ++c)
            wrong += dst[(static_cast<std::size_t>(x) * h + y) * channels + c] !=
                     src[(static_cast<std::size_t>(y) * w + x) * channels + c];
      EXPECT_EQ(wrong, 0u) << w << "x" << h << "x" << channels;
    }
}

TEST(PilResampleApi, NamesParseAndVolumesKeepTheirDepth) {
  for (const char* name : {"pil-nearest", "pil-box", "pil-bilinear", "pil-hamming", "pil-bicubic", "pil-lanczos"}) {
    const ResizeKernel k = parse_resize_kernel(name);
    EXPECT_TRUE(is_pil_kernel(k));
    EXPECT_EQ(resize_kernel_name(k), name);
  }
  EXPECT_FALSE(is_pil_kernel(ResizeKernel::Spline));
  Image vol = test_image(40, 40, 1, 5);
  vol.depth = 1;
  Image stack(40, 40, 3, 1);
  for (int z = 0; z < 3; ++z) std::copy(vol.pixels.begin(), vol.pixels.end(), stack.ptr(0, 0, z));
  const Image slice = resize(vol, 28, 28, 1, ResizeKernel::PilBilinear);
  const Image out = resize(stack, 28, 28, 3, ResizeKernel::PilBilinear);
  for (int z = 0; z < 3; ++z)
    EXPECT_TRUE(std::equal(slice.pixels.begin(), slice.pixels.end(), out.ptr(0, 0, z)));
  EXPECT_THROW(resize(stack, 28, 28, 28, ResizeKernel::PilBilinear), std::invalid_argument);
  EXPECT_THROW(axis_weights(40, 28, ResizeKernel::PilBilinear), std::invalid_argument);
  // resize_to_sizes gives the same images as one resize per size; the input size passes through.
  const auto all = resize_to_sizes(vol, {28, 40, 64}, ResizeKernel::PilLanczos);
  EXPECT_EQ(all[0].pixels, resize(vol, 28, 28, 1, ResizeKernel::PilLanczos).pixels);
  EXPECT_EQ(all[1].pixels, vol.pixels);
  EXPECT_EQ(all[2].pixels, resize(vol, 64, 64, 1, ResizeKernel::PilLanczos).pixels);
}

}  // namespace
}  // namespace mmb
