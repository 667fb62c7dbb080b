// Voxel boxes, plane slices, the central-slice rule, axis swaps and blank detection.
#include <gtest/gtest.h>

#include <cmath>

#include "common/io/volume_file.h"
#include "common/ops/volume_ops.h"
#include "common/ops/window.h"

using namespace mmb;

namespace {

// value = i + 100 j + 10000 k, so every voxel says where it came from.
Volume coded_volume(int ni, int nj, int nk) {
  Volume v;
  v.size = {ni, nj, nk};
  v.spacing = {0.7, 0.8, 2.5};
  v.origin = {10, -20, 30};
  v.direction = {0, 1, 0, -1, 0, 0, 0, 0, 1};  // a rotation, so geometry mistakes show
  v.voxels.resize(v.count());
  for (int k = 0; k < nk; ++k)
    for (int j = 0; j < nj; ++j)
      for (int i = 0; i < ni; ++i) v.at(i, j, k) = float(i + 100 * j + 10000 * k);
  return v;
}

float code(int i, int j, int k) { return float(i + 100 * j + 10000 * k); }

// The float volume as an Image of the same shape holding value % 251 (to test
// slab_as_plane_image on real crops).
Image as_image(const Volume& v) {
  Image img(v.size[0], v.size[1], v.size[2], 1);
  for (std::size_t n = 0; n < v.count(); ++n) img.pixels[n] = static_cast<std::uint8_t>(int(v.voxels[n]) % 251);
  return img;
}

std::uint8_t coded_pixel(int i, int j, int k) { return static_cast<std::uint8_t>(int(code(i, j, k)) % 251); }

}  // namespace

TEST(VoxelBox, ExtentIsInclusiveAndFitChecksEveryBound) {
  const VoxelBox box{{2, 3, 4}, {5, 3, 9}};
  EXPECT_EQ(box.extent(0), 4);
  EXPECT_EQ(box.extent(1), 1);
  EXPECT_EQ(box.extent(2), 6);
  EXPECT_TRUE(box_fits(box, {6, 4, 10}));
  EXPECT_FALSE(box_fits(box, {5, 4, 10}));                      // hi == size
  EXPECT_FALSE(box_fits(VoxelBox{{-1, 0, 0}, {1, 1, 1}}, {6, 4, 10}));
  EXPECT_FALSE(box_fits(VoxelBox{{3, 0, 0}, {2, 1, 1}}, {6, 4, 10}));  // lo > hi
  EXPECT_EQ(box_text(box), "x 2..5, y 3..3, z 4..9");
}

TEST(BoxCode, RoundTripsEveryFieldAtItsLimitsAndRefusesBeyond) {
  for (const VoxelBox& box : {VoxelBox{{0, 0, 0}, {0, 0, 0}}, VoxelBox{{1023, 1, 4095}, {2, 1023, 7}},
                              VoxelBox{{70, 143, 45}, {378, 369, 73}}, VoxelBox{{511, 511, 1144}, {1023, 1023, 4095}}})
    EXPECT_EQ(decode_box(encode_box(box)), box) << box_text(box);
  EXPECT_FALSE(box_encodable(VoxelBox{{0, 0, 0}, {1024, 1, 1}}));
  EXPECT_FALSE(box_encodable(VoxelBox{{0, 0, 0}, {1, 1, 4096}}));
  EXPECT_FALSE(box_encodable(VoxelBox{{-1, 0, 0}, {1, 1, 1}}));
  EXPECT_THROW(encode_box(VoxelBox{{0, 0, 0}, {1, 1024, 1}}), std::invalid_argument);
}

TEST(CropBox, CopiesExactlyTheInclusiveBoxAndMovesTheOrigin) {
  const Volume v = coded_volume(7, 6, 5);
  const VoxelBox box{{1, 2, 3}, {4, 5, 4}};
  const Volume c = crop_box(v, box);
  EXPECT_EQ(c.size, (std::array<int, 3>{4, 4, 2}));
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 4; ++i) ASSERT_EQ(c.at(i, j, k), code(1 + i, 2 + j, 3 + k));
  // Same physical point for the same voxel.
  const auto p = c.to_physical({2, 1, 1}), q = v.to_physical({3, 3, 4});
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(p[a], q[a], 1e-9);
  EXPECT_EQ(c.spacing, v.spacing);
}

TEST(CropBox, RefusesABoxOutsideTheVolume) {
  const Volume v = coded_volume(4, 4, 4);
  EXPECT_THROW(crop_box(v, VoxelBox{{0, 0, 0}, {4, 3, 3}}), std::invalid_argument);
  EXPECT_THROW(crop_box(v, VoxelBox{{2, 0, 0}, {1, 3, 3}}), std::invalid_argument);
}

TEST(PlaneSlices, EachPlaneFixesItsAxisAndKeepsTheOtherTwoInOrder) {
  const Volume v = coded_volume(9, 8, 7);
  const VoxelBox box{{1, 2, 3}, {6, 5, 6}};  // 6 x 4 x 4
  const Image axial = slab_as_plane_image(as_image(crop_box(v, plane_slab(box, Plane::Axial, 4))), Plane::Axial);
  ASSERT_EQ((std::array{axial.width, axial.height, axial.depth}), (std::array{6, 4, 1}));
  EXPECT_EQ(axial.at(5, 3), coded_pixel(6, 5, 4));  // x = i, y = j
  const Image coronal =
      slab_as_plane_image(as_image(crop_box(v, plane_slab(box, Plane::Coronal, 2))), Plane::Coronal);
  ASSERT_EQ((std::array{coronal.width, coronal.height, coronal.depth}), (std::array{6, 4, 1}));
  EXPECT_EQ(coronal.at(4, 1), coded_pixel(5, 2, 4));  // x = i, y = k
  const Image sagittal =
      slab_as_plane_image(as_image(crop_box(v, plane_slab(box, Plane::Sagittal, 6))), Plane::Sagittal);
  ASSERT_EQ((std::array{sagittal.width, sagittal.height, sagittal.depth}), (std::array{4, 4, 1}));
  EXPECT_EQ(sagittal.at(3, 2), coded_pixel(6, 5, 5));  // x = j, y = k
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) ASSERT_EQ(sagittal.at(x, y), coded_pixel(6, 2 + x, 3 + y));
}

TEST(PlaneSlices, RejectSlicesOutsideTheBoxAndThickSlabs) {
  const VoxelBox box{{1, 2, 3}, {6, 5, 6}};
  EXPECT_THROW(plane_slab(box, Plane::Axial, 7), std::invalid_argument);
  EXPECT_THROW(plane_slab(box, Plane::Sagittal, 0), std::invalid_argument);
  EXPECT_THROW(slab_as_plane_image(Image(3, 2, 2, 1), Plane::Axial), std::invalid_argument);
  EXPECT_EQ(parse_plane("coronal"), Plane::Coronal);
  EXPECT_EQ(plane_name(Plane::Sagittal), "sagittal");
  EXPECT_EQ(normal_axis(Plane::Axial), 2);
  EXPECT_THROW(parse_plane("transverse"), std::invalid_argument);
}

TEST(CentralSlices, EveryThirdSliceOfTheCentralSixtyPercentAsPythonRange) {
  // Python: [lo + t for t in range(int(0.2 * n), int(0.8 * n), 3)]
  EXPECT_EQ(central_slices(10, 29, {}), (std::vector<int>{14, 17, 20, 23}));  // n = 20: range(4, 16, 3)
  EXPECT_EQ(central_slices(0, 14, {}), (std::vector<int>{3, 6, 9}));        // n = 15: 0.2*15 = 3.0000000000000004
  EXPECT_EQ(central_slices(5, 16, {}), (std::vector<int>{7, 10, 13}));       // n = 12: range(2, 9, 3)
  EXPECT_EQ(central_slices(0, 0, {}), std::vector<int>{});                  // n = 1: range(0, 0, 3)
  EXPECT_EQ(central_slices(0, 4, {}), (std::vector<int>{1}));               // n = 5: range(1, 4, 3)
  EXPECT_EQ(central_slices(0, 9, {0.0, 1.0, 1}).size(), 10u);
  EXPECT_EQ(central_slices(100, 1244, {}).size(), 229u);                    // n = 1145: range(229, 916, 3)
  EXPECT_THROW(central_slices(0, 9, {0.2, 0.8, 0}), std::invalid_argument);
  EXPECT_THROW(central_slices(0, 9, {0.8, 0.2, 3}), std::invalid_argument);
}

TEST(SwapAxes, EveryVoxelKeepsItsPhysicalPositionAndTwiceIsIdentity) {
  const Volume v = coded_volume(5, 4, 3);
  const Volume s = swap_axes(v, 1, 2);
  EXPECT_EQ(s.size, (std::array<int, 3>{5, 3, 4}));
  EXPECT_EQ(s.spacing, (std::array<double, 3>{0.7, 2.5, 0.8}));
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(s.at(i, k, j), v.at(i, j, k));
        const auto p = s.to_physical({double(i), double(k), double(j)}), q = v.to_physical({double(i), double(j), double(k)});
        for (int a = 0; a < 3; ++a) ASSERT_NEAR(p[a], q[a], 1e-9);
      }
  const Volume back = swap_axes(s, 2, 1);
  EXPECT_EQ(back.voxels, v.voxels);
  EXPECT_EQ(back.direction, v.direction);
}

TEST(SwapAxes, ABoxSwappedWithItsVolumeCropsTheSameVoxels) {
  const Volume v = coded_volume(6, 5, 4);
  const VoxelBox box{{1, 0, 2}, {4, 3, 3}};
  const Volume a = crop_box(swap_axes(v, 1, 2), swap_axes(box, 1, 2));
  const Volume b = swap_axes(crop_box(v, box), 1, 2);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.voxels, b.voxels);
  EXPECT_THROW(swap_axes(box, 0, 3), std::invalid_argument);
}

TEST(IsConstant, ABlankCropIsOneValueEverywhere) {
  Image img(3, 2, 2, 1);
  EXPECT_TRUE(is_constant(img));
  img.at(2, 1, 1) = 1;
  EXPECT_FALSE(is_constant(img));
  EXPECT_TRUE(is_constant(Image()));
  // Air under an abdominal window is a typical blank crop: -1000 and -400 HU both give 0.
  Volume air;
  air.size = {2, 2, 1};
  air.voxels = {-1000, -400, -990, -151};
  EXPECT_TRUE(is_constant(window_to_image(air, HuWindow{50, 400})));
}

TEST(CropBox, CutsARealNiftiInItsArrayOrder) {
  // Debian's python3-nibabel test file: shape (33, 41, 25), nibabel a[10, 20, 5] == 8577.
  const Volume v = read_volume_file("/usr/lib/python3/dist-packages/nibabel/tests/data/anatomical.nii");
  const Volume c = crop_box(v, VoxelBox{{8, 19, 5}, {12, 22, 9}});
  EXPECT_EQ(c.size, (std::array<int, 3>{5, 4, 5}));
  EXPECT_EQ(c.at(2, 1, 0), 8577.0f);
  const Volume s = swap_axes(v, 1, 2);
  EXPECT_EQ(s.size, (std::array<int, 3>{33, 25, 41}));
  EXPECT_EQ(s.at(10, 5, 20), 8577.0f);
}
