// common/ops/resize: numerics against Debian's scipy/skimage (run through
// tests/unit/ref/resize_ref.py, compared in float64 before rounding), the
// uint8 acceptance criterion, geometry, anti-aliasing, the other kernels and
// thread safety.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <unistd.h>

#include "common/ops/resize.h"
#include "common/ops/resize_passes.h"
#include "common/ops/resize_weights.h"

namespace mmb {
namespace {

namespace fs = std::filesystem;
using Shape = std::vector<int>;  // numpy order: (h, w) or (d, h, w)

// ---------------------------------------------------------------------------
// .npy files (format 1.0: magic, header dict padded to 64 bytes, raw data)

template <class T>
const char* npy_descr();
template <>
const char* npy_descr<std::uint8_t>() { return "|u1"; }
template <>
const char* npy_descr<double>() { return "<f8"; }

template <class T>
void write_npy(const fs::path& path, const std::vector<T>& data, const Shape& shape) {
  std::string dims;
  for (int d : shape) dims += std::to_string(d) + ",";
  std::string header = std::string("{'descr': '") + npy_descr<T>() + "', 'fortran_order': False, 'shape': (" +
                       dims + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ').push_back('\n');
  std::ofstream out(path, std::ios::binary);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char*>(&len), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(T)));
  ASSERT_TRUE(out.good()) << path;
}

// Reads a C-order float64 array written by np.save.
std::vector<double> read_npy_f64(const fs::path& path, std::size_t expected_values) {
  std::ifstream in(path, std::ios::binary);
  char magic[8];
  in.read(magic, 8);
  if (!in || std::string(magic, 6) != "\x93NUMPY") throw std::runtime_error("not a .npy file: " + path.string());
  std::size_t len = 0;
  if (magic[6] == 1) {
    std::uint16_t n;
    in.read(reinterpret_cast<char*>(&n), 2);
    len = n;
  } else {
    std::uint32_t n;
    in.read(reinterpret_cast<char*>(&n), 4);
    len = n;
  }
  std::string header(len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(len));
  if (header.find("'<f8'") == std::string::npos || header.find("False") == std::string::npos)
    throw std::runtime_error("expected C-order float64: " + header);
  std::vector<double> v(expected_values);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
  if (!in) throw std::runtime_error("short .npy file: " + path.string());
  return v;
}

// ---------------------------------------------------------------------------
// Reference runner

struct RefJob {
  std::string op;  // zoom | skimage | recipe
  fs::path in, out;
  Shape shape;
};

class ResizeRef : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mmb_test_resize_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path file(const std::string& name) const { return dir_ / name; }

  // Runs all jobs in one Python process (importing scipy/skimage takes ~1 s).
  static void run(const std::vector<RefJob>& jobs) {
    std::string cmd = std::string("/usr/bin/python3 ") + MMB_SOURCE_DIR + "/tests/unit/ref/resize_ref.py";
    for (const RefJob& j : jobs) {
      std::string dims;
      for (int d : j.shape) {
        if (!dims.empty()) dims += ',';
        dims += std::to_string(d);
      }
      cmd += " " + j.op + ":" + j.in.string() + ":" + j.out.string() + ":" + dims;
    }
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  fs::path dir_;
};

std::size_t product(const Shape& s) {
  std::size_t n = 1;
  for (int d : s) n *= static_cast<std::size_t>(d);
  return n;
}

struct Diff {
  double max = 0, mean = 0;
};

Diff compare(const std::vector<float>& ours, const std::vector<double>& ref) {
  Diff d;
  EXPECT_EQ(ours.size(), ref.size());
  for (std::size_t i = 0; i < std::min(ours.size(), ref.size()); ++i) {
    const double e = std::abs(ours[i] - ref[i]);
    d.max = std::max(d.max, e);
    d.mean += e;
  }
  d.mean /= std::max<std::size_t>(1, ref.size());
  return d;
}

void report(const std::string& what, const Diff& d) {
  std::cout << "[resize] " << what << ": max |diff| " << d.max << ", mean " << d.mean << "\n";
  ::testing::Test::RecordProperty(what + " max", std::to_string(d.max));
}

// ---------------------------------------------------------------------------
// Inputs

// Random values in 0..255 over smooth structure (worst case for the spline's
// overshoot: iid noise).
FloatImage noise_float(int w, int h, int d, unsigned seed) {
  FloatImage img{w, h, d, 1, std::vector<float>(static_cast<std::size_t>(w) * h * d)};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 255.f);
  for (float& v : img.data) v = u(rng);
  return img;
}

// Natural-ish content: smooth shading, hard edges (a disc and a bar), thin
// lines and noise, like a radiograph or a CT slice.
Image natural_image(int w, int h, int d, unsigned seed) {
  Image img(w, h, d, 1);
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 10.f);
  for (int z = 0; z < d; ++z)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const float fx = float(x) / w, fy = float(y) / h, fz = d > 1 ? float(z) / d : 0.5f;
        float v = 90.f + 50.f * std::sin(6.f * fx + 2.f * fz) * std::cos(4.f * fy);
        const float r2 = (fx - 0.55f) * (fx - 0.55f) + (fy - 0.45f) * (fy - 0.45f) + (fz - 0.5f) * (fz - 0.5f);
        if (r2 < 0.06f) v += 70.f;
        if (fx > 0.15f && fx < 0.2f) v -= 60.f;
        if ((x + 2 * y) % 97 < 2) v += 40.f;
        img.at(x, y, z) = static_cast<std::uint8_t>(std::clamp(v + noise(rng), 0.f, 255.f));
      }
  return img;
}

FloatImage to_float(const Image& img) {
  FloatImage f{img.width, img.height, img.depth, img.channels, {}};
  f.data.assign(img.pixels.begin(), img.pixels.end());
  return f;
}

Shape shape_of(int w, int h, int d) { return d == 1 ? Shape{h, w} : Shape{d, h, w}; }

std::vector<double> as_doubles(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// ---------------------------------------------------------------------------
// 1-3: numerics against scipy / skimage

// Upsampling: the spline with the half-sample boundary, no smoothing.
TEST_F(ResizeRef, UpsamplingMatchesScipyZoomGridMirror) {
  struct Case { int w, h, d, ow, oh, od; };
  const std::vector<Case> cases{{37, 23, 1, 64, 64, 1}, {40, 24, 1, 224, 224, 1}, {13, 17, 11, 28, 28, 28}};
  std::vector<RefJob> jobs;
  std::vector<FloatImage> ours;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const FloatImage in = noise_float(c.w, c.h, c.d, 11 + i);
    write_npy(file("up" + std::to_string(i) + ".npy"), as_doubles(in.data), shape_of(c.w, c.h, c.d));
    jobs.push_back({"zoom", file("up" + std::to_string(i) + ".npy"), file("up" + std::to_string(i) + "_ref.npy"),
                    shape_of(c.ow, c.oh, c.od)});
    ours.push_back(resize_float_unclipped(in, c.ow, c.oh, c.od, ResizeKernel::Spline));
  }
  run(jobs);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Diff d = compare(ours[i].data, read_npy_f64(jobs[i].out, product(jobs[i].shape)));
    report("zoom " + std::to_string(cases[i].w) + "x" + std::to_string(cases[i].h) + "x" +
               std::to_string(cases[i].d),
           d);
    EXPECT_LE(d.max, 1e-3);
  }
}

// Downsampling: Gaussian + spline with the whole-sample boundary, clipped.
// A mixed case (one axis shrinks, one grows) checks the per-axis recipe.
TEST_F(ResizeRef, DownsamplingMatchesSkimageAntiAliased) {
  struct Case { std::string op; int w, h, d, ow, oh, od; bool clip; double tol; };
  const std::vector<Case> cases{{"skimage", 256, 256, 1, 28, 28, 1, true, 1e-2},
                                {"skimage", 300, 200, 1, 224, 150, 1, true, 1e-2},
                                {"skimage", 64, 64, 64, 28, 28, 28, true, 1e-2},
                                {"recipe", 80, 20, 1, 64, 64, 1, false, 1e-3},
                                {"recipe", 20, 50, 40, 28, 28, 28, false, 1e-3}};
  std::vector<RefJob> jobs;
  std::vector<FloatImage> ours;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const FloatImage in = noise_float(c.w, c.h, c.d, 23 + i);
    const std::string name = "down" + std::to_string(i);
    write_npy(file(name + ".npy"), as_doubles(in.data), shape_of(c.w, c.h, c.d));
    jobs.push_back({c.op, file(name + ".npy"), file(name + "_ref.npy"), shape_of(c.ow, c.oh, c.od)});
    ours.push_back(c.clip ? resize_float(in, c.ow, c.oh, c.od, ResizeKernel::Spline)
                          : resize_float_unclipped(in, c.ow, c.oh, c.od, ResizeKernel::Spline));
  }
  run(jobs);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Diff d = compare(ours[i].data, read_npy_f64(jobs[i].out, product(jobs[i].shape)));
    report(c.op + " " + std::to_string(c.w) + "x" + std::to_string(c.h) + "x" + std::to_string(c.d) + " -> " +
               std::to_string(c.ow) + "x" + std::to_string(c.oh) + "x" + std::to_string(c.od),
           d);
    EXPECT_LE(d.max, c.tol);
  }
}

// The acceptance criterion: our uint8 output vs skimage rounded to nearest,
// at most 1 grey level apart, on fewer than 10% of the pixels.
void expect_uint8_acceptance(const Image& ours, const std::vector<double>& ref, const std::string& what) {
  ASSERT_EQ(ours.pixels.size(), ref.size());
  std::size_t off_by_one = 0;
  int worst = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const int expected = static_cast<int>(std::clamp(std::nearbyint(ref[i]), 0.0, 255.0));
    const int diff = std::abs(int(ours.pixels[i]) - expected);
    worst = std::max(worst, diff);
    off_by_one += diff != 0;
  }
  const double fraction = double(off_by_one) / ref.size();
  std::cout << "[resize] uint8 " << what << ": max |diff| " << worst << " grey level(s), " << off_by_one << " of "
            << ref.size() << " pixels differ (" << 100.0 * fraction << "%)\n";
  EXPECT_LE(worst, 1) << what;
  EXPECT_LT(fraction, 0.10) << what;
}

TEST_F(ResizeRef, Uint8OutputMatchesRoundedSkimageWithinOneLevel) {
  const Image src2d = natural_image(1024, 1024, 1, 5);
  const Image src3d = natural_image(128, 128, 128, 6);
  write_npy(file("src2d.npy"), src2d.pixels, {1024, 1024});
  write_npy(file("src3d.npy"), src3d.pixels, {128, 128, 128});
  const std::vector<int> sizes2d{28, 64, 128, 224}, sizes3d{28, 64};
  std::vector<RefJob> jobs;
  for (int s : sizes2d) jobs.push_back({"skimage", file("src2d.npy"), file("r2_" + std::to_string(s) + ".npy"), {s, s}});
  for (int s : sizes3d)
    jobs.push_back({"skimage", file("src3d.npy"), file("r3_" + std::to_string(s) + ".npy"), {s, s, s}});
  run(jobs);

  const std::vector<Image> out2d = resize_to_sizes(src2d, sizes2d, ResizeKernel::Spline);
  const std::vector<Image> out3d = resize_to_sizes(src3d, sizes3d, ResizeKernel::Spline);
  for (std::size_t i = 0; i < sizes2d.size(); ++i)
    expect_uint8_acceptance(out2d[i], read_npy_f64(jobs[i].out, product(jobs[i].shape)),
                            "1024^2 -> " + std::to_string(sizes2d[i]));
  for (std::size_t i = 0; i < sizes3d.size(); ++i) {
    const RefJob& j = jobs[sizes2d.size() + i];
    expect_uint8_acceptance(out3d[i], read_npy_f64(j.out, product(j.shape)), "128^3 -> " + std::to_string(sizes3d[i]));
  }
}

// ---------------------------------------------------------------------------
// 4-6: geometry, anti-aliasing, anisotropy

// A ramp equal to the column index: the spline reproduces linear functions,
// so interior outputs sit exactly at x = (i + 0.5) s - 0.5 (half-pixel
// centres; align-corners would give 0 for the first column). The first
// column carries skimage's edge bias: the Gaussian's mirror padding pulls it
// to 20.744 instead of 17.786 (skimage.transform.resize(order=3) gives 20.744),
// and so must ours.
TEST(Resize, RampKeepsHalfPixelCentres) {
  FloatImage ramp{1024, 64, 1, 1, std::vector<float>(1024 * 64)};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 1024; ++x) ramp.data[y * 1024 + x] = static_cast<float>(x);
  const FloatImage out = resize_float(ramp, 28, 28, 1, ResizeKernel::Spline);
  const double s = 1024.0 / 28;
  for (int y = 0; y < 28; ++y) {
    const float* row = out.data.data() + y * 28;
    EXPECT_NEAR(row[0], 20.744, 0.01);                 // skimage's value
    EXPECT_NEAR(row[0], 0.5 * s - 0.5, 3.0);           // the edge bias stays bounded
    EXPECT_NEAR(row[27], 1023.0 - 20.744, 0.01);       // and symmetric
    EXPECT_NEAR(row[1], 1.5 * s - 0.5, 0.02);
    for (int i = 2; i < 26; ++i) EXPECT_NEAR(row[i], (i + 0.5) * s - 0.5, 2e-3) << "column " << i;
  }
}

double stddev(const std::vector<std::uint8_t>& v) {
  double mean = 0, sq = 0;
  for (auto x : v) mean += x;
  mean /= v.size();
  for (auto x : v) sq += (x - mean) * (x - mean);
  return std::sqrt(sq / v.size());
}

// iid noise has no content at 28x28: an anti-aliased resize averages it away
// (skimage: std 1.16), point sampling keeps it (std ~74).
TEST(Resize, AntiAliasingAveragesAwayNoise) {
  Image noise(1024, 1024, 1, 1);
  std::mt19937 rng(3);
  for (auto& p : noise.pixels) p = static_cast<std::uint8_t>(rng() & 0xff);
  const double spline = stddev(resize(noise, 28, 28, 1, ResizeKernel::Spline).pixels);
  const double area = stddev(resize(noise, 28, 28, 1, ResizeKernel::Area).pixels);
  const double nearest = stddev(resize(noise, 28, 28, 1, ResizeKernel::Nearest).pixels);
  std::cout << "[resize] noise std at 28: spline " << spline << ", area " << area << ", nearest " << nearest << "\n";
  EXPECT_LT(spline, 3.0);
  EXPECT_LT(area, 3.0);
  EXPECT_GT(nearest, 50.0);
}

// An axis that keeps its size is not touched: slices with content every
// fourth z stay exactly as the 2D resize of that content, the others stay 0.
TEST(Resize, UnresizedDepthIsNotSmoothed) {
  const Image plane = natural_image(64, 64, 1, 9);
  Image vol(64, 64, 16, 1);
  for (int z = 0; z < 16; z += 4)
    std::copy(plane.pixels.begin(), plane.pixels.end(), vol.pixels.begin() + z * 64 * 64);
  const Image expected = resize(plane, 28, 28, 1, ResizeKernel::Spline);
  const Image out = resize(vol, 28, 28, 16, ResizeKernel::Spline);
  ASSERT_EQ(out.depth, 16);
  for (int z = 0; z < 16; ++z)
    for (int i = 0; i < 28 * 28; ++i) {
      const std::uint8_t want = z % 4 == 0 ? expected.pixels[i] : 0;
      ASSERT_EQ(out.pixels[z * 28 * 28 + i], want) << "z " << z << " pixel " << i;
    }
  // And in float: the z profile of the impulses is preserved exactly.
  FloatImage fvol = to_float(vol);
  const FloatImage fout = resize_float(fvol, 28, 28, 16, ResizeKernel::Spline);
  for (int z = 1; z < 16; z += 4) EXPECT_EQ(fout.data[z * 28 * 28 + 14 * 28 + 14], 0.f);
}

// ---------------------------------------------------------------------------
// 7: the other kernels, identity, channels, threads

TEST(Resize, AreaMatchesOpenCvInterArea) {
  struct Case { int w, h, ow, oh; };
  for (const Case c : {Case{1024, 1024, 28, 28}, Case{1024, 1024, 64, 64}, Case{1000, 700, 224, 100},
                       Case{360, 363, 28, 28}}) {
    const Image src = natural_image(c.w, c.h, 1, 13);
    const cv::Mat in(c.h, c.w, CV_8UC1, const_cast<std::uint8_t*>(src.pixels.data()));
    cv::Mat want;
    cv::resize(in, want, cv::Size(c.ow, c.oh), 0, 0, cv::INTER_AREA);
    const Image got = resize(src, c.ow, c.oh, 1, ResizeKernel::Area);
    int worst = 0;
    for (int y = 0; y < c.oh; ++y)
      for (int x = 0; x < c.ow; ++x) worst = std::max(worst, std::abs(int(got.at(x, y)) - int(want.at<std::uint8_t>(y, x))));
    EXPECT_LE(worst, 1) << c.w << "x" << c.h << " -> " << c.ow << "x" << c.oh;
  }
}

TEST(Resize, NearestPicksSourcePixels) {
  Image src(100, 70, 1, 1);
  for (std::size_t i = 0; i < src.pixels.size(); ++i) src.pixels[i] = static_cast<std::uint8_t>(i * 37 % 251);
  for (const auto& [ow, oh] : {std::pair{28, 28}, std::pair{224, 150}, std::pair{100, 33}}) {
    const Image out = resize(src, ow, oh, 1, ResizeKernel::Nearest);
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        const int sx = std::min(99, static_cast<int>(std::floor((x + 0.5) * 100.0 / ow)));
        const int sy = std::min(69, static_cast<int>(std::floor((y + 0.5) * 70.0 / oh)));
        ASSERT_EQ(out.at(x, y), src.at(sx, sy)) << ow << "x" << oh << " at " << x << "," << y;
      }
  }
}

// PathMNIST at 224 must be the source pixels, for every kernel.
TEST(Resize, IdentitySizeReturnsSourceBytes) {
  Image rgb(224, 224, 1, 3);
  std::mt19937 rng(4);
  for (auto& p : rgb.pixels) p = static_cast<std::uint8_t>(rng());
  for (ResizeKernel k : {ResizeKernel::Spline, ResizeKernel::Area, ResizeKernel::Linear, ResizeKernel::Nearest}) {
    const std::vector<Image> out = resize_to_sizes(rgb, {28, 224}, k);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].width, 28);
    EXPECT_EQ(out[1].pixels, rgb.pixels) << resize_kernel_name(k);
    EXPECT_EQ(resize(rgb, 224, 224, 1, k).pixels, rgb.pixels) << resize_kernel_name(k);
  }
}

// Interleaved channels are resized independently: red content leaves green
// and blue at exactly 0, and the red plane equals the gray resize of itself.
TEST(Resize, RgbChannelsStayIndependent) {
  Image red_plane = natural_image(300, 200, 1, 8);
  red_plane.pixels[0] = 0;  // the spline clips to the whole image's range (as skimage): make it 0..max in both
  Image rgb(300, 200, 1, 3);
  for (std::size_t i = 0; i < red_plane.pixels.size(); ++i) rgb.pixels[3 * i] = red_plane.pixels[i];
  for (ResizeKernel k : {ResizeKernel::Spline, ResizeKernel::Area, ResizeKernel::Linear, ResizeKernel::Nearest}) {
    for (const int s : {28, 224}) {
      const Image out = resize(rgb, s, s, 1, k);
      const Image gray = resize(red_plane, s, s, 1, k);
      for (int i = 0; i < s * s; ++i) {
        ASSERT_EQ(out.pixels[3 * i], gray.pixels[i]) << resize_kernel_name(k) << " " << s;
        ASSERT_EQ(out.pixels[3 * i + 1], 0) << resize_kernel_name(k);
        ASSERT_EQ(out.pixels[3 * i + 2], 0) << resize_kernel_name(k);
      }
    }
  }
  Image pure_red(64, 48, 1, 3);
  for (std::size_t i = 0; i < pure_red.pixels.size(); i += 3) pure_red.pixels[i] = 255;
  for (const Image& out : resize_to_sizes(pure_red, {28, 64, 128}, ResizeKernel::Spline))
    for (std::size_t i = 0; i < out.pixels.size(); i += 3) {
      ASSERT_EQ(out.pixels[i], 255);
      ASSERT_EQ(out.pixels[i + 1], 0);
      ASSERT_EQ(out.pixels[i + 2], 0);
    }
}

// Degenerate geometries (one-pixel axes, a Gaussian wider than the axis, a
// depth that appears from nothing) fold their taps correctly: a constant stays
// exactly constant, for every kernel.
TEST(Resize, ConstantImagesStayConstantForAnyShape) {
  struct Case { int w, h, d, ow, oh, od; };
  for (const Case c : {Case{1, 1, 1, 28, 28, 1}, Case{9, 1, 1, 5, 3, 1}, Case{1, 7, 1, 4, 2, 1},
                       Case{2, 3, 4, 5, 1, 7}, Case{300, 2, 1, 3, 64, 1}, Case{1, 1, 5, 2, 2, 2},
                       Case{5, 4, 1, 3, 3, 6}}) {
    for (ResizeKernel k : {ResizeKernel::Spline, ResizeKernel::Area, ResizeKernel::Linear, ResizeKernel::Nearest}) {
      Image img(c.w, c.h, c.d, 2);
      for (std::size_t i = 0; i < img.pixels.size(); i += 2) img.pixels[i] = 173, img.pixels[i + 1] = 4;
      const Image out = resize(img, c.ow, c.oh, c.od, k);
      ASSERT_EQ(out.pixels.size(), std::size_t(c.ow) * c.oh * c.od * 2);
      for (std::size_t i = 0; i < out.pixels.size(); i += 2) {
        ASSERT_EQ(out.pixels[i], 173) << resize_kernel_name(k) << " " << c.w << "x" << c.h << "x" << c.d;
        ASSERT_EQ(out.pixels[i + 1], 4) << resize_kernel_name(k);
      }
    }
  }
}

// The pipeline resizes from many threads at once; geometries no other test
// uses make every thread race to build the same weights.
TEST(Resize, ConcurrentCallsGiveIdenticalResults) {
  const Image src = natural_image(999, 1001, 1, 21);
  const std::vector<int> sizes{27, 29, 31, 33, 35};
  std::vector<std::vector<Image>> results(6);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3; ++rep) results[t] = resize_to_sizes(src, sizes, ResizeKernel::Spline);
    });
  for (auto& th : threads) th.join();
  const std::vector<Image> serial = resize_to_sizes(src, sizes, ResizeKernel::Spline);
  for (const auto& r : results)
    for (std::size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(r[i].pixels, serial[i].pixels);
}

// ---------------------------------------------------------------------------
// Internals: rounding, weights, the vector kernel

TEST(Resize, RoundsHalfToEven) {
  for (int k = -2 * 256; k <= 257 * 256; ++k) {
    const float v = k / 256.f;
    const int want = static_cast<int>(std::clamp(std::nearbyint(v), 0.f, 255.f));
    ASSERT_EQ(resize_detail::round_to_u8(v), want) << v;
  }
  // End to end: area averages of two pixels land on .5 exactly.
  Image pair(2, 1, 1, 1);
  pair.pixels = {1, 2};
  EXPECT_EQ(resize(pair, 1, 1, 1, ResizeKernel::Area).pixels[0], 2);  // 1.5 -> 2
  pair.pixels = {2, 3};
  EXPECT_EQ(resize(pair, 1, 1, 1, ResizeKernel::Area).pixels[0], 2);  // 2.5 -> 2
}

// Trimming the negligible tails changes a row's result by < 1e-4 grey levels
// on 0..255 data (the worst case: every dropped weight meets 255 or 0 with the
// sign that adds up), and the stored runs are well formed.
TEST(Resize, TrimmedWeightsStayWithinBudget) {
  double worst = 0;
  for (const auto& [n_in, n_out] : {std::pair{1024, 28}, std::pair{1024, 224}, std::pair{256, 28}, std::pair{37, 64},
                                   std::pair{2000, 3}, std::pair{10, 1}, std::pair{1, 5}, std::pair{3, 2}}) {
    const auto dense = resize_detail::dense_axis_matrix(n_in, n_out, ResizeKernel::Spline);
    const auto w = axis_weights(n_in, n_out, ResizeKernel::Spline);
    ASSERT_EQ(w->n_out, n_out);
    for (int i = 0; i < n_out; ++i) {
      ASSERT_GE(w->first[i], 0);
      ASSERT_LE(w->first[i] + w->count[i], n_in);
      double err = 0, sum = 0;
      for (int k = 0; k < n_in; ++k) {
        const int rel = k - w->first[i];
        const double kept = rel >= 0 && rel < w->count[i] ? w->weight[w->offset[i] + rel] : 0.0;
        err += 255.0 * std::abs(dense[i][k] - kept);
        sum += dense[i][k];
      }
      EXPECT_NEAR(sum, 1.0, 1e-9) << n_in << "->" << n_out;  // the spline reproduces constants
      worst = std::max(worst, err);
    }
  }
  std::cout << "[resize] worst change from trimming and float weights: " << worst << " grey levels per pass\n";
  EXPECT_LT(worst, 1e-4);
}

TEST(Resize, VectorKernelMatchesPortableBitForBit) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(-300.f, 300.f);
  for (const std::size_t len : {1u, 3u, 28u, 64u, 100u, 224u, 1031u}) {
    const int count = 37;
    std::vector<float> rows(len * count), w(count), a(len), b(len);
    for (float& v : rows) v = u(rng);
    for (float& v : w) v = u(rng) / 300.f;
    resize_detail::weighted_row_sum(rows.data(), len, w.data(), count, a.data(), len);
    resize_detail::weighted_row_sum_portable(rows.data(), len, w.data(), count, b.data(), len);
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), len * sizeof(float))) << len;
  }
}

TEST(Resize, KernelNamesRoundTrip) {
  for (ResizeKernel k : {ResizeKernel::Spline, ResizeKernel::Area, ResizeKernel::Linear, ResizeKernel::Nearest})
    EXPECT_EQ(parse_resize_kernel(resize_kernel_name(k)), k);
  EXPECT_THROW(parse_resize_kernel("bicubic"), std::invalid_argument);
  EXPECT_THROW(resize(Image(4, 4, 1, 1), 0, 4, 1, ResizeKernel::Spline), std::invalid_argument);
}

}  // namespace
}  // namespace mmb
