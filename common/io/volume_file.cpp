#include "common/io/volume_file.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkNiftiImageIO.h>

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "common/core/error.h"
#include "common/io/files.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

using ItkVolume = itk::Image<float, 3>;

bool is_nifti(const fs::path& file) {
  const std::string name = to_lower(file.filename().string());
  return name.ends_with(".nii") || name.ends_with(".nii.gz");
}

// NIfTI only, named explicitly: factory probing is slow and can misidentify
// (InsightSoftwareConsortium/ITK PR #389: CanReadFile probing could take minutes).
itk::ImageIOBase::Pointer io_for(const fs::path& file) {
  if (!fs::exists(file)) throw InputError(file, "file is missing");
  if (!is_nifti(file)) throw InputError(file, "not a NIfTI file (.nii or .nii.gz)");
  return itk::NiftiImageIO::New();
}

void copy_geometry(const ItkVolume* image, Volume& v) {
  const auto size = image->GetLargestPossibleRegion().GetSize();
  for (int a = 0; a < 3; ++a) {
    v.size[a] = static_cast<int>(size[a]);
    v.spacing[a] = image->GetSpacing()[a];
    v.origin[a] = image->GetOrigin()[a];
    for (int b = 0; b < 3; ++b) v.direction[3 * a + b] = image->GetDirection()[a][b];
  }
}

template <typename T>
T field(const unsigned char* header, std::size_t offset, bool swap) {
  T v;
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, header + offset, sizeof(T));
  if (swap) std::reverse(bytes, bytes + sizeof(T));
  std::memcpy(&v, bytes, sizeof(T));
  return v;
}

// Bytes a complete NIfTI-1/-2 file holds: vox_offset + voxels * bitpix / 8.
std::uint64_t expected_nifti_bytes(const fs::path& file, const unsigned char* h) {
  const bool swap = field<std::int32_t>(h, 0, false) != 348 && field<std::int32_t>(h, 0, false) != 540;
  const std::int32_t sizeof_hdr = field<std::int32_t>(h, 0, swap);
  std::uint64_t voxels = 1;
  if (sizeof_hdr == 348) {
    for (int d = 1; d <= std::clamp<int>(field<std::int16_t>(h, 40, swap), 1, 7); ++d)
      voxels *= static_cast<std::uint64_t>(std::max<std::int16_t>(field<std::int16_t>(h, 40 + 2 * d, swap), 1));
    return static_cast<std::uint64_t>(field<float>(h, 108, swap)) + voxels * field<std::int16_t>(h, 72, swap) / 8;
  }
  if (sizeof_hdr == 540) {
    for (int d = 1; d <= std::clamp<int>(static_cast<int>(field<std::int64_t>(h, 16, swap)), 1, 7); ++d)
      voxels *= static_cast<std::uint64_t>(std::max<std::int64_t>(field<std::int64_t>(h, 16 + 8 * d, swap), 1));
    return static_cast<std::uint64_t>(field<std::int64_t>(h, 168, swap)) + voxels * field<std::int16_t>(h, 14, swap) / 8;
  }
  throw InputError(file, "not a NIfTI file (bad header size)");
}

// NIfTI readers pad a short file with zeros instead of failing, so the length
// is checked here: the file size for .nii, the gzip trailer (ISIZE, the
// uncompressed length mod 2^32) for .nii.gz.
void check_complete(const fs::path& file) {
  unsigned char header[540] = {};
  gzFile gz = gzopen(file.c_str(), "rb");
  if (!gz) throw InputError(file, "cannot open file");
  const int got = gzread(gz, header, sizeof header);
  gzclose(gz);
  if (got < 348) throw InputError(file, "truncated NIfTI (header incomplete)");
  const std::uint64_t expected = expected_nifti_bytes(file, header);
  if (!to_lower(file.filename().string()).ends_with(".gz")) {
    if (fs::file_size(file) < expected)
      throw InputError(file, "truncated NIfTI (" + std::to_string(fs::file_size(file)) + " of " +
                                 std::to_string(expected) + " bytes)");
    return;
  }
  std::ifstream in(file, std::ios::binary);
  in.seekg(-4, std::ios::end);
  unsigned char trailer[4] = {};
  in.read(reinterpret_cast<char*>(trailer), 4);
  const std::uint32_t isize = trailer[0] | trailer[1] << 8 | trailer[2] << 16 | std::uint32_t(trailer[3]) << 24;
  if (!in || isize != static_cast<std::uint32_t>(expected))
    throw InputError(file, "truncated or corrupt gzip stream (length does not match the NIfTI header)");
}

ItkVolume::Pointer read(const fs::path& file, bool pixels) {
  auto reader = itk::ImageFileReader<ItkVolume>::New();
  reader->SetImageIO(io_for(file));
  if (pixels) check_complete(file);
  reader->SetFileName(file.string());
  try {
    if (pixels) reader->Update();
    else reader->UpdateOutputInformation();
  } catch (const itk::ExceptionObject& e) {
    throw InputError(file, std::string("cannot read NIfTI volume (") + e.GetDescription() + ")");
  }
  return reader->GetOutput();
}

}  // namespace

Volume read_volume_header(const fs::path& file) {
  Volume v;
  copy_geometry(read(file, false), v);
  return v;
}

Volume read_volume_file(const fs::path& file) {
  auto image = read(file, true);
  Volume v;
  copy_geometry(image, v);
  if (v.count() == 0) throw InputError(file, "empty volume");
  const float* data = image->GetBufferPointer();
  v.voxels.assign(data, data + v.count());
  return v;
}

}  // namespace mmb
