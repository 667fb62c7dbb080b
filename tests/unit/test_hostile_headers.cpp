// Headers that claim huge or invalid sizes from tiny files (issue 13): named errors
// before anything large is allocated.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <vector>

#include "common/core/error.h"
#include "common/io/dicom_series.h"
#include "common/io/image_file.h"
#include "common/io/volume_file.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

const fs::path kAnatomical = "/usr/lib/python3/dist-packages/nibabel/tests/data/anatomical.nii";  // big-endian

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("mmb-hostile-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

// The 352 first bytes of the real big-endian NIfTI-1 file (header + empty extension).
std::vector<unsigned char> nifti_header() {
  std::ifstream in(kAnatomical, std::ios::binary);
  std::vector<unsigned char> h(352);
  in.read(reinterpret_cast<char*>(h.data()), 352);
  return h;
}

template <typename T>
void put_big_endian(std::vector<unsigned char>& h, std::size_t offset, T value) {
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  std::reverse(bytes, bytes + sizeof(T));
  std::memcpy(h.data() + offset, bytes, sizeof(T));
}

void write_gz(const fs::path& file, const std::vector<unsigned char>& bytes) {
  gzFile gz = gzopen(file.c_str(), "wb");
  gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(gz);
}

std::string reason_of(const fs::path& file) {
  try {
    read_volume_file(file);
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), file);
    return e.reason();
  }
  return "no error";
}

}  // namespace

TEST(HostileNifti, AGzipWhoseLengthMatchesOnlyModulo2To32IsRefusedBeforeReading) {
  TempDir t;
  auto h = nifti_header();
  // 2048 x 2048 x 3072 uint8 = 12 GiB of voxels: 352 + 12 GiB == 352 (mod 2^32), the
  // length the gzip trailer records for this header-only file.
  put_big_endian<std::int16_t>(h, 40, 3);
  put_big_endian<std::int16_t>(h, 42, 2048);
  put_big_endian<std::int16_t>(h, 44, 2048);
  put_big_endian<std::int16_t>(h, 46, 3072);
  put_big_endian<std::int16_t>(h, 70, 2);  // DT_UNSIGNED_CHAR
  put_big_endian<std::int16_t>(h, 72, 8);
  write_gz(t.path / "bomb.nii.gz", h);
  ASSERT_LT(fs::file_size(t.path / "bomb.nii.gz"), 1000u);
  EXPECT_NE(reason_of(t.path / "bomb.nii.gz").find("more than this"), std::string::npos);
}

TEST(HostileNifti, NanOrNegativeVoxOffsetAndAbsurdDimsAreNamed) {
  TempDir t;
  auto h = nifti_header();
  put_big_endian<float>(h, 108, std::numeric_limits<float>::quiet_NaN());
  std::ofstream(t.path / "nan.nii", std::ios::binary).write(reinterpret_cast<const char*>(h.data()), h.size());
  EXPECT_NE(reason_of(t.path / "nan.nii").find("vox_offset"), std::string::npos);

  h = nifti_header();
  put_big_endian<std::int16_t>(h, 40, 7);  // 7 dims of 32767: 2^105 voxels, no 64-bit product
  for (int d = 1; d <= 7; ++d) put_big_endian<std::int16_t>(h, 40 + 2 * d, 32767);
  std::ofstream(t.path / "huge.nii", std::ios::binary).write(reinterpret_cast<const char*>(h.data()), h.size());
  EXPECT_NE(reason_of(t.path / "huge.nii").find("more than the limit"), std::string::npos);

  h = nifti_header();
  put_big_endian<std::int16_t>(h, 72, 12);  // bitpix not a whole number of bytes
  std::ofstream(t.path / "bitpix.nii", std::ios::binary).write(reinterpret_cast<const char*>(h.data()), h.size());
  EXPECT_NE(reason_of(t.path / "bitpix.nii").find("bitpix"), std::string::npos);
}

// pydicom's CT_small.dcm (Debian python3-pydicom): a real Part 10 CT slice.
const fs::path kCtSlice = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm";

TEST(HostileDicom, ASliceCutInsideItsMetaInformationIsNamedNotAnAbort) {
  if (!fs::exists(kCtSlice)) GTEST_SKIP() << "python3-pydicom's test files are not installed";
  TempDir t;
  fs::create_directories(t.path / "series");
  for (const char* name : {"1.dcm", "2.dcm"}) fs::copy_file(kCtSlice, t.path / "series" / name);
  EXPECT_EQ(dicom_meta_problem(t.path / "series" / "1.dcm"), "");
  fs::resize_file(t.path / "series" / "2.dcm", 300);  // inside the (0002) group: GDCM 3.0 asserted here
  EXPECT_NE(dicom_meta_problem(t.path / "series" / "2.dcm").find("truncated DICOM file"), std::string::npos);
  const DicomTree tree = scan_dicom_tree(t.path);  // used to abort the process
  ASSERT_EQ(tree.unreadable.size(), 1u);
  EXPECT_EQ(fs::path(tree.unreadable[0].where).filename(), "2.dcm");
  fs::resize_file(t.path / "series" / "1.dcm", 100);  // shorter than a preamble
  EXPECT_NE(dicom_meta_problem(t.path / "series" / "1.dcm"), "");
}

TEST(HostileImages, HeaderSizesPastTheLimitAreRefusedBeforeDecoding) {
  // A PNG signature and IHDR for 32000 x 32000 gray: the header alone decides.
  std::vector<unsigned char> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                    0, 0, 0x7D, 0x00, 0, 0, 0x7D, 0x00, 8, 0, 0, 0, 0};
  EXPECT_NE(check_image_header(png).find("32000x32000 pixels, more than the limit"), std::string::npos);
  EXPECT_EQ(check_image_header(png, {.max_pixels = 32000ull * 32000}), "");
  // JPEG: SOI, an APP0 segment, then SOF0 with height 5, width 37 (fine) / 60000 x 60000.
  std::vector<unsigned char> jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 5, 0, 37, 1, 1, 0x11, 0};
  EXPECT_EQ(check_image_header(jpeg), "");
  jpeg[13] = jpeg[15] = 0xEA, jpeg[14] = jpeg[16] = 0x60;
  EXPECT_NE(check_image_header(jpeg).find("60000x60000"), std::string::npos);
  // Little-endian TIFF whose first IFD states 0 x 100.
  std::vector<unsigned char> tiff = {'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0, 0, 1, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                                     1, 1, 3, 0, 1, 0, 0, 0, 100, 0, 0, 0};
  EXPECT_EQ(check_image_header(tiff), "");  // width tag 0: not stated, the decoder judges
  tiff[18] = 0x10, tiff[19] = 0x27;         // width 10000 -> 10^6 pixels: fine
  EXPECT_EQ(check_image_header(tiff), "");
  tiff[30] = 0x10, tiff[31] = 0x27, tiff[18] = 0xA0, tiff[19] = 0x86;  // 34464 x 10000 > 2^27
  EXPECT_NE(check_image_header(tiff).find("more than the limit"), std::string::npos);
}
