// common/ops/roi_resample: numerics against scipy.ndimage (tests/unit/ref/roi_ref.py,
// which resamples the WHOLE volume, so the sub-block's truncation is measured
// too), for anisotropic spacing, LPS flips, an oblique direction, a crop that
// leaves the volume, and the linear mode; plus the sub-block guarantee, the
// output geometry, the fill, region centroids and argument errors.
//
// Coordinates for the reference are computed here from the physical points
// with an independent 3x3 solve, not with the code under test.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/ops/roi_resample.h"
#include "common/ops/window.h"

namespace mmb {
namespace {

namespace fs = std::filesystem;
using Point = std::array<double, 3>;

// ---------------------------------------------------------------------------
// .npy files (format 1.0)

void write_npy(const fs::path& path, const std::vector<double>& data, const std::vector<int>& shape) {
  std::string dims;
  for (int d : shape) dims += std::to_string(d) + ",";
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ').push_back('\n');
  std::ofstream out(path, std::ios::binary);
  const auto len = static_cast<std::uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char*>(&len), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(double)));
  ASSERT_TRUE(out.good()) << path;
}

std::vector<double> read_npy_f64(const fs::path& path, std::size_t values) {
  std::ifstream in(path, std::ios::binary);
  char preamble[10];
  in.read(preamble, 10);
  if (!in || std::string(preamble, 6) != "\x93NUMPY" || preamble[6] != 1)
    throw std::runtime_error("not a v1 .npy file: " + path.string());
  const std::size_t len = static_cast<unsigned char>(preamble[8]) | static_cast<unsigned char>(preamble[9]) << 8;
  std::string header(len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(len));
  if (header.find("'<f8'") == std::string::npos) throw std::runtime_error("expected float64: " + header);
  std::vector<double> v(values);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(values * sizeof(double)));
  if (!in) throw std::runtime_error("short .npy file: " + path.string());
  return v;
}

// ---------------------------------------------------------------------------
// Test volumes

// A CT-like field in HU: soft tissue with smooth variation, two bright
// "bones", an air pocket, and pixel noise, so both smooth regions and sharp
// edges (where a spline overshoots) are compared.
Volume ct_like(std::array<int, 3> size, std::array<double, 3> spacing, std::array<double, 9> direction,
               std::array<double, 3> origin) {
  Volume v;
  v.size = size, v.spacing = spacing, v.direction = direction, v.origin = origin;
  v.voxels.resize(v.count());
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> noise(-25.0f, 25.0f);
  for (int k = 0; k < size[2]; ++k)
    for (int j = 0; j < size[1]; ++j)
      for (int i = 0; i < size[0]; ++i) {
        const double x = static_cast<double>(i) / size[0], y = static_cast<double>(j) / size[1],
                     z = static_cast<double>(k) / size[2];
        double hu = 40 + 60 * std::sin(7 * x + 3 * y) * std::cos(5 * z);
        if (std::hypot(x - 0.45, y - 0.5) < 0.12) hu = 900;                       // a bone column
        if (std::hypot(x - 0.7, y - 0.3, z - 0.5) < 0.15) hu = 1400;              // a dense ball
        if (std::hypot(x - 0.25, y - 0.75, z - 0.4) < 0.13) hu = -950;            // air
        v.at(i, j, k) = static_cast<float>(hu) + noise(rng);
      }
  return v;
}

constexpr std::array<double, 9> kIdentity{1, 0, 0, 0, 1, 0, 0, 0, 1};
constexpr std::array<double, 9> kLpsFlips{-1, 0, 0, 0, -1, 0, 0, 0, 1};

// A rotation of 30 degrees about z followed by a swap of the y and z axes.
std::array<double, 9> oblique() {
  const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
  return {c, -s, 0, 0, 0, 1, s, c, 0};
}

// ---------------------------------------------------------------------------
// Independent geometry for the reference

Point solve3(const std::array<double, 9>& m, Point b) {  // Cramer's rule
  auto det = [](const std::array<double, 9>& a) {
    return a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6]);
  };
  const double d = det(m);
  Point x{};
  for (int col = 0; col < 3; ++col) {
    auto mc = m;
    for (int r = 0; r < 3; ++r) mc[3 * r + col] = b[r];
    x[col] = det(mc) / d;
  }
  return x;
}

// Continuous index (i, j, k) of every output voxel, i fastest.
std::vector<double> reference_coordinates(const Volume& v, const RoiRequest& r) {
  std::array<double, 9> ds{};
  for (int row = 0; row < 3; ++row)
    for (int col = 0; col < 3; ++col) ds[3 * row + col] = v.direction[3 * row + col] * v.spacing[col];
  std::vector<double> coords;
  const auto& n = r.out_size;
  for (int c = 0; c < n[2]; ++c)
    for (int b = 0; b < n[1]; ++b)
      for (int a = 0; a < n[0]; ++a) {
        const Point u{((a + 0.5) / n[0] - 0.5) * r.size_mm[0], ((b + 0.5) / n[1] - 0.5) * r.size_mm[1],
                      ((c + 0.5) / n[2] - 0.5) * r.size_mm[2]};
        Point p = r.centre_mm;
        for (int row = 0; row < 3; ++row)
          for (int col = 0; col < 3; ++col) p[row] += v.direction[3 * row + col] * u[col];
        for (int row = 0; row < 3; ++row) p[row] -= v.origin[row];
        const Point x = solve3(ds, p);
        coords.insert(coords.end(), x.begin(), x.end());
      }
  return coords;
}

std::string sigmas_for(const Volume& v, const RoiRequest& r) {
  std::string out;
  for (int a = 0; a < 3; ++a) {
    const double step = r.size_mm[a] / (r.out_size[a] * v.spacing[a]);
    const double sigma = r.anti_alias && step > 1 ? (step - 1) / 2 : 0.0;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%.17g", a ? "," : "", sigma);
    out += buf;
  }
  return out;
}

class RoiAgainstScipy : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mmb_test_roi_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // scipy's values for every output voxel of resample_roi(v, r).
  std::vector<double> reference(const Volume& v, const RoiRequest& r) {
    std::vector<double> voxels(v.voxels.begin(), v.voxels.end());
    write_npy(dir_ / "volume.npy", voxels, {v.size[2], v.size[1], v.size[0]});
    const auto coords = reference_coordinates(v, r);
    write_npy(dir_ / "coords.npy", coords, {static_cast<int>(coords.size() / 3), 3});
    const int order = r.interpolation == RoiInterpolation::Linear ? 1 : 3;
    const std::string cmd = std::string("/usr/bin/python3 ") + MMB_SOURCE_DIR + "/tests/unit/ref/roi_ref.py " +
                            (dir_ / "volume.npy").string() + ":" + (dir_ / "coords.npy").string() + ":" +
                            (dir_ / "ref.npy").string() + ":" + std::to_string(order) + ":" + sigmas_for(v, r) +
                            ":" + std::to_string(r.fill);
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return read_npy_f64(dir_ / "ref.npy", coords.size() / 3);
  }

  // The acceptance criterion (mean |diff| <= 0.5 grey level after a soft-tissue
  // window, the most sensitive one we use) and a numeric one in HU: the
  // sub-block truncation and float storage stay below a hundredth of an HU
  // (measured: 2.5e-4 HU, float rounding).
  void expect_matches(const Volume& v, const RoiRequest& r, double max_hu = 0.01) {
    const Volume ours = resample_roi(v, r);
    const auto ref = reference(v, r);
    ASSERT_EQ(ours.voxels.size(), ref.size());
    const HuWindow window{40, 400};
    double grey_sum = 0, worst_hu = 0;
    for (std::size_t n = 0; n < ref.size(); ++n) {
      grey_sum += std::abs(int(hu_to_gray(ours.voxels[n], window)) - int(hu_to_gray(ref[n], window)));
      worst_hu = std::max(worst_hu, std::abs(ours.voxels[n] - ref[n]));
    }
    std::cout << "  mean grey diff " << grey_sum / ref.size() << ", max HU diff " << worst_hu << " over " << ref.size() << " voxels\n";
    EXPECT_LE(grey_sum / ref.size(), 0.5);
    EXPECT_LE(worst_hu, max_hu);
  }

  fs::path dir_;
};

RoiRequest request_at(const Volume& v, Point centre_index, double size_mm, int out, bool anti_alias = true) {
  RoiRequest r;
  r.centre_mm = v.to_physical(centre_index);
  r.size_mm = {size_mm, size_mm, size_mm};
  r.out_size = {out, out, out};
  r.anti_alias = anti_alias;
  return r;
}

TEST_F(RoiAgainstScipy, IsotropicUpsamplingMatchesMapCoordinates) {
  const Volume v = ct_like({72, 64, 40}, {1, 1, 1}, kIdentity, {-30, 12, 100});
  expect_matches(v, request_at(v, {35.3, 30.7, 20.2}, 20.0, 32));
}

TEST_F(RoiAgainstScipy, AnisotropicSpacingWithAntiAliasingMatches) {
  // 30 mm in 16 voxels: 2.68 input voxels per output step in-plane (Gaussian
  // sigma 0.84), 0.75 along the 2.5 mm slices (no smoothing).
  const Volume v = ct_like({96, 80, 30}, {0.7, 0.7, 2.5}, kIdentity, {0, 0, 0});
  expect_matches(v, request_at(v, {46.2, 41.9, 14.6}, 30.0, 16));
}

TEST_F(RoiAgainstScipy, LpsFlippedDirectionMatches) {
  const Volume v = ct_like({80, 72, 48}, {0.8, 0.8, 1.25}, kLpsFlips, {120, 95, -40});
  expect_matches(v, request_at(v, {38.6, 35.1, 22.9}, 40.0, 28));
}

TEST_F(RoiAgainstScipy, ObliqueDirectionMatches) {
  const Volume v = ct_like({64, 60, 56}, {0.9, 1.1, 1.5}, oblique(), {10, -20, 30});
  expect_matches(v, request_at(v, {30.4, 29.8, 27.3}, 36.0, 24));
}

TEST_F(RoiAgainstScipy, CropReachingOutsideTheVolumeTakesTheFill) {
  const Volume v = ct_like({64, 56, 36}, {0.75, 0.75, 1.25}, kLpsFlips, {40, 30, -10});
  RoiRequest r = request_at(v, {4.0, 50.0, 2.5}, 40.0, 28);
  expect_matches(v, r);
  const Volume out = resample_roi(v, r);
  // Output voxel (0, 0, 0) lies ~22 voxels before the volume's first i: fill, exactly.
  EXPECT_EQ(out.at(0, 0, 0), -1024.0f);
  EXPECT_NE(out.at(20, 8, 20), -1024.0f);
}

TEST_F(RoiAgainstScipy, LinearModeMatchesOrderOne) {
  Volume v = ct_like({60, 60, 30}, {0.8, 0.8, 2.0}, kLpsFlips, {0, 0, 0});
  for (float& x : v.voxels) x = x > 600 ? 1.0f : 0.0f;  // a mask
  RoiRequest r = request_at(v, {30.2, 29.7, 15.1}, 32.0, 32, false);
  r.interpolation = RoiInterpolation::Linear;
  r.fill = 0.0f;
  const Volume ours = resample_roi(v, r);
  const auto ref = reference(v, r);
  double worst = 0;
  for (std::size_t n = 0; n < ref.size(); ++n) worst = std::max(worst, std::abs(ours.voxels[n] - ref[n]));
  EXPECT_LE(worst, 1e-6);
}

// ---------------------------------------------------------------------------
// Guarantees that need no reference

TEST(RoiResample, ReadsOnlyItsSubBlock) {
  Volume v = ct_like({120, 110, 60}, {0.7, 0.7, 1.25}, kIdentity, {0, 0, 0});
  const RoiRequest r = request_at(v, {60.5, 50.2, 30.7}, 24.0, 28);
  const IndexBox box = roi_source_block(v, r);
  // Taps (24 mm / 0.7 mm = 34 voxels) + 2 * (pad 12 + Gaussian radius) in-plane, far from the whole 120.
  EXPECT_LT(box.size[0], 80);
  EXPECT_LT(box.size[2], 50);
  const Volume before = resample_roi(v, r);
  for (int k = 0; k < v.size[2]; ++k)
    for (int j = 0; j < v.size[1]; ++j)
      for (int i = 0; i < v.size[0]; ++i) {
        const bool inside = i >= box.first[0] && i < box.first[0] + box.size[0] && j >= box.first[1] &&
                            j < box.first[1] + box.size[1] && k >= box.first[2] && k < box.first[2] + box.size[2];
        if (!inside) v.at(i, j, k) = 30000.0f;
      }
  EXPECT_EQ(resample_roi(v, r).voxels, before.voxels);
}

TEST(RoiResample, OutputGeometryIsTheBoxOnTheVolumesAxes) {
  const Volume v = ct_like({40, 40, 20}, {0.5, 0.5, 2.0}, kLpsFlips, {10, 20, 30});
  RoiRequest r = request_at(v, {20, 20, 10}, 16.0, 8);
  r.size_mm = {16, 8, 32};
  r.out_size = {8, 4, 16};
  const Volume out = resample_roi(v, r);
  EXPECT_EQ(out.size, r.out_size);
  EXPECT_EQ(out.spacing, (std::array<double, 3>{2, 2, 2}));
  EXPECT_EQ(out.direction, v.direction);
  // Voxel (0, 0, 0) is half a voxel in from the box corner: centre + D * (-7, -3, -15).
  const Point expected{r.centre_mm[0] + 7, r.centre_mm[1] + 3, r.centre_mm[2] - 15};
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(out.origin[a], expected[a], 1e-9);
}

TEST(RoiResample, ConstantVolumeStaysConstantAndFarBoxesAreAllFill) {
  Volume v = ct_like({30, 30, 30}, {1, 1, 1}, kIdentity, {0, 0, 0});
  std::fill(v.voxels.begin(), v.voxels.end(), 123.0f);
  RoiRequest r = request_at(v, {15, 15, 15}, 20.0, 12);
  for (float x : resample_roi(v, r).voxels) EXPECT_NEAR(x, 123.0f, 1e-3);
  r.centre_mm = {500, 500, 500};
  for (float x : resample_roi(v, r).voxels) EXPECT_EQ(x, -1024.0f);
  EXPECT_TRUE(roi_source_block(v, r).empty());
}

TEST(RoiResample, NearestModeKeepsLabelValues) {
  Volume v = ct_like({20, 20, 20}, {1, 1, 1}, kIdentity, {0, 0, 0});
  for (std::size_t n = 0; n < v.voxels.size(); ++n) v.voxels[n] = static_cast<float>(n % 7);
  // 1 mm steps from index 10.5 - 5.5 = 5: output (a, b, c) is input (5 + a, 5 + b, 5 + c).
  RoiRequest r = request_at(v, {10.5, 10.5, 10.5}, 12.0, 12);
  r.interpolation = RoiInterpolation::Nearest;
  r.fill = 0;
  const Volume out = resample_roi(v, r);
  for (int c = 0; c < 12; ++c)
    for (int b = 0; b < 12; ++b)
      for (int a = 0; a < 12; ++a) ASSERT_EQ(out.at(a, b, c), v.at(5 + a, 5 + b, 5 + c));
}

TEST(RoiResample, RejectsBadArguments) {
  Volume v = ct_like({10, 10, 10}, {1, 1, 1}, kIdentity, {0, 0, 0});
  RoiRequest r = request_at(v, {5, 5, 5}, 10.0, 8);
  r.out_size = {8, 0, 8};
  EXPECT_THROW(resample_roi(v, r), std::invalid_argument);
  r = request_at(v, {5, 5, 5}, 10.0, 8);
  r.size_mm[2] = -1;
  EXPECT_THROW(resample_roi(v, r), std::invalid_argument);
  r = request_at(v, {5, 5, 5}, 10.0, 8);
  Volume singular = v;
  singular.direction = {1, 0, 0, 1, 0, 0, 0, 0, 1};
  EXPECT_THROW(resample_roi(singular, r), std::invalid_argument);
  Volume empty;
  EXPECT_THROW(resample_roi(empty, r), std::invalid_argument);
}

TEST(RegionCentroids, MeanIndexPerLabelMappedToPhysicalSpace) {
  Volume labels;
  labels.size = {10, 8, 6};
  labels.spacing = {0.5, 0.5, 2.0};
  labels.direction = kLpsFlips;
  labels.origin = {100, 50, -20};
  labels.voxels.assign(labels.count(), 0.0f);
  labels.at(2, 3, 1) = 1, labels.at(4, 3, 1) = 1, labels.at(3, 5, 4) = 1;  // mean (3, 11/3, 2)
  labels.at(9, 7, 5) = 7.0001f;                                          // rounds to 7
  const auto regions = region_centroids(labels);
  ASSERT_EQ(regions.size(), 2u);
  const Region& one = regions.at(1);
  EXPECT_EQ(one.voxels, 3);
  EXPECT_DOUBLE_EQ(one.mean_index[1], 11.0 / 3);
  EXPECT_NEAR(one.centroid_mm[0], 100 - 0.5 * 3, 1e-12);  // LPS flip: i runs towards -x
  EXPECT_NEAR(one.centroid_mm[1], 50 - 0.5 * 11.0 / 3, 1e-12);
  EXPECT_NEAR(one.centroid_mm[2], -20 + 2.0 * 2, 1e-12);
  EXPECT_EQ(regions.at(7).voxels, 1);
}

}  // namespace
}  // namespace mmb
