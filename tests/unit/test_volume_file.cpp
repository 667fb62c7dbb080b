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

// ---- One-pass voxel reading against ITK's ImageFileReader (the previous reader) ----
#include <itkImageFileReader.h>
#include <itkNiftiImageIO.h>
#include <zlib.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

namespace {

template <typename T>
void put(std::vector<char>& h, std::size_t offset, T value) {
  std::memcpy(h.data() + offset, &value, sizeof(T));
}

// A NIfTI-1 single file of 7 x 5 x 3 voxels of type T (datatype code), with the given scaling;
// big_endian writes every field and voxel byte-swapped.
template <typename T>
fs::path write_nifti(const fs::path& file, std::int16_t datatype, const std::vector<T>& voxels, float slope,
                     float inter, bool big_endian, bool gz) {
  std::vector<char> h(352, 0);
  auto swapped = [&](auto v) {
    if (!big_endian) return v;
    unsigned char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    std::reverse(b, b + sizeof v);
    std::memcpy(&v, b, sizeof v);
    return v;
  };
  put<std::int32_t>(h, 0, swapped(std::int32_t{348}));
  const std::int16_t dim[8] = {3, 7, 5, 3, 1, 1, 1, 1};
  for (int d = 0; d < 8; ++d) put<std::int16_t>(h, 40 + 2 * d, swapped(dim[d]));
  put<std::int16_t>(h, 70, swapped(datatype));
  put<std::int16_t>(h, 72, swapped(static_cast<std::int16_t>(8 * sizeof(T))));
  const float pixdim[8] = {1, 0.5f, 0.75f, 2.0f, 1, 1, 1, 1};
  for (int d = 0; d < 8; ++d) put<float>(h, 76 + 4 * d, swapped(pixdim[d]));
  put<float>(h, 108, swapped(352.0f));
  put<float>(h, 112, swapped(slope));
  put<float>(h, 116, swapped(inter));
  put<std::int16_t>(h, 252, swapped(std::int16_t{0}));  // qform_code
  put<std::int16_t>(h, 254, swapped(std::int16_t{1}));  // sform_code
  const float srow[12] = {0.5f, 0, 0, -3, 0, 0.75f, 0, 4, 0, 0, 2.0f, 5};
  for (int i = 0; i < 12; ++i) put<float>(h, 280 + 4 * i, swapped(srow[i]));
  std::memcpy(h.data() + 344, "n+1\0", 4);
  std::vector<char> body(voxels.size() * sizeof(T));
  for (std::size_t i = 0; i < voxels.size(); ++i) {
    const T v = swapped(voxels[i]);
    std::memcpy(body.data() + i * sizeof(T), &v, sizeof(T));
  }
  if (gz) {
    gzFile out = gzopen(file.c_str(), "wb");
    gzwrite(out, h.data(), static_cast<unsigned>(h.size()));
    gzwrite(out, body.data(), static_cast<unsigned>(body.size()));
    gzclose(out);
  } else {
    std::ofstream out(file, std::ios::binary);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
  }
  return file;
}

std::vector<float> itk_voxels(const fs::path& file) {
  auto reader = itk::ImageFileReader<itk::Image<float, 3>>::New();
  reader->SetImageIO(itk::NiftiImageIO::New());
  reader->SetFileName(file.string());
  reader->Update();
  const auto* image = reader->GetOutput();
  const float* p = image->GetBufferPointer();
  return {p, p + image->GetLargestPossibleRegion().GetNumberOfPixels()};
}

// Values spanning the type's range, including its extremes.
template <typename T>
std::vector<T> sample_values() {
  std::mt19937_64 rng(12);
  std::vector<T> v(7 * 5 * 3);
  for (auto& x : v) {
    if constexpr (std::is_floating_point_v<T>) x = static_cast<T>(std::uniform_real_distribution<double>(-3e3, 3e3)(rng));
    else x = static_cast<T>(rng());
  }
  v[0] = std::numeric_limits<T>::lowest();
  v[1] = std::numeric_limits<T>::max();
  return v;
}

template <typename T>
void expect_same_as_itk(std::int16_t datatype) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-nifti-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto voxels = sample_values<T>();
  struct Scaling {
    float slope, inter;
  };
  for (const Scaling sc : {Scaling{1, 0}, Scaling{0, 0}, Scaling{2.5f, -1024}, Scaling{0.001f, 3.25f}, Scaling{0, 7}})
    for (bool big_endian : {false, true})
      for (bool gz : {false, true}) {
        const std::string name = "t" + std::to_string(datatype) + (big_endian ? "be" : "le") + (gz ? ".nii.gz" : ".nii");
        const fs::path file = write_nifti(dir / name, datatype, voxels, sc.slope, sc.inter, big_endian, gz);
        SCOPED_TRACE(name + " slope " + std::to_string(sc.slope) + " inter " + std::to_string(sc.inter));
        const Volume v = read_volume_file(file);
        EXPECT_EQ(v.size, (std::array<int, 3>{7, 5, 3}));
        EXPECT_EQ(v.spacing, (std::array<double, 3>{0.5, 0.75, 2.0}));
        const auto expected = itk_voxels(file);
        ASSERT_EQ(v.voxels.size(), expected.size());
        // ITK rescales 32- and 64-bit integers after rounding them to float, so
        // beyond 2^24 it is 1 ulp off the exact value; the reader computes
        // value * slope + inter in double, as nibabel does, and rounds once.
        const bool rescaled = (sc.slope != 0 && sc.slope != 1) || sc.inter != 0;
        const bool wide_integer = std::is_integral_v<T> && sizeof(T) >= 4 && rescaled;
        for (std::size_t i = 0; i < expected.size(); ++i) {
          if (wide_integer) {
            const double slope = sc.slope == 0 ? 1.0 : sc.slope;
            ASSERT_EQ(v.voxels[i], static_cast<float>(static_cast<double>(voxels[i]) * slope + sc.inter)) << i;
            ASSERT_LE(std::abs(static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(v.voxels[i])) -
                               static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(expected[i]))),
                      1)
                << "voxel " << i << ": " << v.voxels[i] << " vs ITK " << expected[i];
            continue;
          }
          ASSERT_EQ(std::bit_cast<std::uint32_t>(v.voxels[i]), std::bit_cast<std::uint32_t>(expected[i]))
              << "voxel " << i << ": " << v.voxels[i] << " vs ITK " << expected[i];
        }
      }
  fs::remove_all(dir);
}

}  // namespace

TEST(VolumeFileOnePass, SameVoxelsAsItkForEveryScalarDatatypeScalingAndByteOrder) {
  expect_same_as_itk<std::uint8_t>(2);
  expect_same_as_itk<std::int8_t>(256);
  expect_same_as_itk<std::int16_t>(4);
  expect_same_as_itk<std::uint16_t>(512);
  expect_same_as_itk<std::int32_t>(8);
  expect_same_as_itk<std::uint32_t>(768);
  expect_same_as_itk<float>(16);
  expect_same_as_itk<double>(64);
  expect_same_as_itk<std::int64_t>(1024);
  expect_same_as_itk<std::uint64_t>(1280);
}

TEST(VolumeFileOnePass, RealFilesMatchItkIncludingTheFirstVolumeOf4D) {
  for (const fs::path file : {kAnatomical, fs::path("/usr/lib/python3/dist-packages/nibabel/tests/data/example4d.nii.gz")}) {
    const Volume v = read_volume_file(file);
    EXPECT_EQ(v.voxels, itk_voxels(file)) << file;
  }
}

TEST(VolumeFileOnePass, ComplexDataIsANamedError) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-nifti-c-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path file = write_nifti(dir / "complex.nii", 32, std::vector<double>(7 * 5 * 3), 1, 0, false, false);
  EXPECT_THROW(read_volume_file(file), InputError);
  fs::remove_all(dir);
}
