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
