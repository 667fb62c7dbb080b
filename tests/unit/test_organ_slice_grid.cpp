// converters/organ_slice_grid: the Organ{A,C,S}MNIST slice counts on Xu et al.'s real LiTS organ
// boxes (tests/data/xu2019_lits, the zips of github.com/superxuang/caffe_3d_faster_rcnn), against
// figures computed independently in Python (math.floor(f * n), range(int(.2 m), int(.8 m), 3)) and
// against the official counts of medmnist/info.py; and the geometry of a grid slab.
#include <gtest/gtest.h>
#include <zip.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "converters/organ_slice_grid.h"

namespace mmb {
namespace {

struct RealBox {
  bool test = false;
  int volume = 0;
  VoxelBox box;
};

// Every box line of one of Xu et al.'s zips.
std::vector<RealBox> read_zip(const std::string& path, bool test) {
  int err = 0;
  std::unique_ptr<zip_t, int (*)(zip_t*)> z(zip_open(path.c_str(), ZIP_RDONLY, &err), zip_close);
  if (!z) throw std::runtime_error("cannot open " + path);
  const std::regex name(R"((?:test-)?segmentation-(\d+)\.txt)");
  std::vector<RealBox> out;
  for (zip_int64_t i = 0; i < zip_get_num_entries(z.get(), 0); ++i) {
    zip_stat_t st;
    zip_stat_index(z.get(), i, 0, &st);
    std::smatch m;
    const std::string member = st.name;
    if (!std::regex_match(member, m, name)) continue;
    std::string text(st.size, '\0');
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen_index(z.get(), i, 0), zip_fclose);
    zip_fread(f.get(), text.data(), st.size);
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string organ;
      int id, x1, x2, y1, y2, z1, z2;
      if (fields >> organ >> id >> x1 >> x2 >> y1 >> y2 >> z1 >> z2)
        out.push_back({test, std::stoi(m[1]), VoxelBox{{x1, y1, z1}, {x2, y2, z2}}});
    }
  }
  return out;
}

class RealBoxes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = std::string(MMB_SOURCE_DIR) + "/tests/data/xu2019_lits/";
    train_ = read_zip(dir + "annotations_of_training_set.zip", false);
    for (const auto& b : read_zip(dir + "annotations_of_testing_set.zip", true))
      if (b.volume != 59) test_.push_back(b);  // test-volume-59 is left out, as MedMNIST did (610 = 618 - 8)
  }
  // Slices of every box along `axis`: {LiTS train (= MedMNIST train + val), LiTS test}.
  static std::array<long, 2> count(const SliceGrid& grid, int axis) {
    std::array<long, 2> n{0, 0};
    const CentralSliceRule rule;  // 20-80 %, every 3rd
    for (int s = 0; s < 2; ++s)
      for (const auto& b : s == 0 ? train_ : test_)
        n[s] += static_cast<long>(grid_slices(b.box.lo[axis], b.box.hi[axis], grid_factor(grid, axis, {1, 1, 1}), rule).size());
    return n;
  }
  static inline std::vector<RealBox> train_, test_;
};

TEST_F(RealBoxes, AreXuEtAlsFullSet) {
  EXPECT_EQ(train_.size(), 1133u);  // OrganMNIST3D train + val is 971 + 161 = 1,132
  EXPECT_EQ(test_.size(), 610u);    // OrganMNIST3D test is 610
}

TEST_F(RealBoxes, RawVoxelGridGivesAxialFewestUnlikeMedMNIST) {
  SliceGrid voxel;
  voxel.kind = SliceGrid::Kind::Voxel;
  EXPECT_EQ(count(voxel, 2), (std::array<long, 2>{22154, 9626}));    // axial
  EXPECT_EQ(count(voxel, 1), (std::array<long, 2>{29356, 15755}));   // coronal
  EXPECT_EQ(count(voxel, 0), (std::array<long, 2>{31264, 16820}));   // sagittal
}

TEST_F(RealBoxes, DefaultScaledGridMeetsTheOfficialCounts) {
  const SliceGrid grid;  // the default: 0.5245 in-plane, 1.867 along z
  const auto axial = count(grid, 2), coronal = count(grid, 1), sagittal = count(grid, 0);
  EXPECT_EQ(axial, (std::array<long, 2>{41052, 17780}));
  EXPECT_EQ(coronal, (std::array<long, 2>{15366, 8259}));
  EXPECT_EQ(sagittal, (std::array<long, 2>{16385, 8825}));
  // Official (medmnist/info.py): train + val, test.
  const std::array<std::array<long, 2>, 3> official{{{34561 + 6491, 17778}, {12975 + 2392, 8216}, {13932 + 2452, 8827}}};
  const std::array<std::array<long, 2>, 3> ours{axial, coronal, sagittal};
  for (int p = 0; p < 3; ++p)
    for (int s = 0; s < 2; ++s)
      EXPECT_LE(std::abs(ours[p][s] - official[p][s]), official[p][s] / 150) << "plane " << p << " split " << s;
}

TEST(GridSlices, FollowTheRuleOnTheScaledExtent) {
  const CentralSliceRule rule;
  EXPECT_EQ(grid_slices(10, 19, 1.0, rule), (std::vector<int>{2, 5}));         // n = 10: range(2, 8, 3)
  EXPECT_EQ(grid_slices(10, 19, 2.0, rule), (std::vector<int>{4, 7, 10, 13}));  // m = 20: range(4, 16, 3)
  EXPECT_EQ(grid_slices(10, 19, 0.35, rule), (std::vector<int>{0}));           // m = 3: range(0, 2, 3)
  EXPECT_TRUE(grid_slices(10, 10, 0.5, rule).empty());                          // m = 0
  EXPECT_THROW(grid_slices(0, 9, 0.0, rule), std::invalid_argument);
}

TEST(GridFactor, FollowsTheKind) {
  SliceGrid g;
  EXPECT_DOUBLE_EQ(grid_factor(g, 2, {0.7, 0.7, 2.5}), 1.867);
  g.kind = SliceGrid::Kind::Millimetre, g.mm = 1.5;
  EXPECT_DOUBLE_EQ(grid_factor(g, 2, {0.7, 0.7, 3.0}), 2.0);  // a 3 mm slice holds two 1.5 mm grid slices
  g.kind = SliceGrid::Kind::Voxel;
  EXPECT_DOUBLE_EQ(grid_factor(g, 0, {0.7, 0.7, 3.0}), 1.0);
  EXPECT_THROW(parse_slice_grid("physical"), std::invalid_argument);
}

// A volume whose value is linear in one index: a cubic B-spline (and a symmetric Gaussian)
// reproduces it exactly away from the edges, so a slab's value tells where it was sampled.
Volume ramp(int axis) {
  Volume v;
  v.size = {40, 36, 48};
  v.spacing = {0.8, 0.7, 2.5};
  v.origin = {-100, 20, 300};
  v.voxels.resize(v.count());
  for (int k = 0; k < v.size[2]; ++k)
    for (int j = 0; j < v.size[1]; ++j)
      for (int i = 0; i < v.size[0]; ++i) v.at(i, j, k) = 10.0f * std::array<int, 3>{i, j, k}[axis] + 3.0f;
  return v;
}

TEST(GridSlab, SamplesTheGridSliceCentreAlongTheNormal) {
  const VoxelBox box{{12, 10, 14}, {27, 25, 33}};
  for (const auto& [plane, factor] : {std::pair{Plane::Axial, 1.867}, std::pair{Plane::Sagittal, 0.5245},
                                      std::pair{Plane::Coronal, 0.5245}}) {
    const int axis = normal_axis(plane);
    const Volume v = ramp(axis);
    for (int t : grid_slices(box.lo[axis], box.hi[axis], factor, CentralSliceRule{})) {
      const Volume slab = grid_slab(v, box, plane, t, factor);
      std::array<int, 3> expect_size{box.extent(0), box.extent(1), box.extent(2)};
      expect_size[axis] = 1;
      ASSERT_EQ(slab.size, expect_size);
      const double x = box.lo[axis] - 0.5 + (t + 0.5) / factor;
      for (float value : slab.voxels) EXPECT_NEAR(value, 10.0 * x + 3.0, 1e-3) << plane_name(plane) << " t " << t;
    }
  }
}

TEST(GridSlab, FactorOneIsTheRawVoxelSlab) {
  const Volume v = ramp(0);
  const VoxelBox box{{3, 4, 5}, {20, 30, 40}};
  const Volume slab = grid_slab(v, box, Plane::Coronal, 7, 1.0);
  const Volume raw = crop_box(v, plane_slab(box, Plane::Coronal, 4 + 7));
  EXPECT_EQ(slab.voxels, raw.voxels);
  EXPECT_EQ(slab.size, raw.size);
}

}  // namespace
}  // namespace mmb
