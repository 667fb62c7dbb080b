// NIfTI reading with a real file shipped by Debian's python3-nibabel.
#include <gtest/gtest.h>

#include <numeric>

#include "common/core/error.h"
#include "common/io/volume_file.h"
#include "common/ops/window.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {
const fs::path kAnatomical = "/usr/lib/python3/dist-packages/nibabel/tests/data/anatomical.nii";
}

TEST(VolumeFile, ReadsARealNiftiInArrayOrderWithItsGeometry) {
  Volume v = read_volume_file(kAnatomical);
  // nibabel: shape (33, 41, 25), >i2, zooms 2 mm, a[10, 20, 5] == 8577, sum 284166082.
  EXPECT_EQ(v.size, (std::array<int, 3>{33, 41, 25}));
  EXPECT_EQ(v.spacing, (std::array<double, 3>{2, 2, 2}));
  EXPECT_EQ(v.at(10, 20, 5), 8577.0f);
  EXPECT_EQ(std::accumulate(v.voxels.begin(), v.voxels.end(), 0.0), 284166082.0);
  // ITK reports LPS: the RAS affine's origin (32, -40, -16) becomes (-32, 40, -16).
  EXPECT_EQ(v.origin, (std::array<double, 3>{-32, 40, -16}));
  EXPECT_EQ(v.to_physical({1, 0, 0})[0], -32 + 2.0 * v.direction[0]);
}

TEST(VolumeFile, HeaderOnlyReadsNoVoxels) {
  Volume v = read_volume_header(kAnatomical);
  EXPECT_EQ(v.size, (std::array<int, 3>{33, 41, 25}));
  EXPECT_TRUE(v.voxels.empty());
}

TEST(VolumeFile, TruncatedOrWrongFilesAreNamedErrors) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-vol-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(kAnatomical, dir / "cut.nii", fs::copy_options::overwrite_existing);
  fs::resize_file(dir / "cut.nii", fs::file_size(dir / "cut.nii") / 2);
  try {
    read_volume_file(dir / "cut.nii");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), dir / "cut.nii");
  }
  const fs::path gz = "/usr/lib/python3/dist-packages/nibabel/tests/data/example4d.nii.gz";
  fs::copy_file(gz, dir / "cut.nii.gz", fs::copy_options::overwrite_existing);
  fs::resize_file(dir / "cut.nii.gz", fs::file_size(dir / "cut.nii.gz") - 100);
  try {
    read_volume_file(dir / "cut.nii.gz");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(e.reason().find("gzip"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_volume_file(dir / "absent.nii"), InputError);
  EXPECT_THROW(read_volume_file(dir / "x.png"), InputError);
  fs::remove_all(dir);
}

TEST(WindowToImage, WindowsEveryVoxelAndMasksBecome0Or255) {
  Volume v;
  v.size = {2, 1, 2};
  v.voxels = {-1000, -150, 250, 50};
  Image img = window_to_image(v, HuWindow{50, 400});
  EXPECT_EQ(img.depth, 2);
  EXPECT_EQ(img.pixels, (std::vector<std::uint8_t>{0, 0, 255, 128}));
  v.voxels = {0, 1, 0.2f, 3};
  EXPECT_EQ(mask_to_image(v).pixels, (std::vector<std::uint8_t>{0, 255, 0, 255}));
}
