#include "common/io/volume_file.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkNiftiImageIO.h>

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>

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
// (peers.md §7.2).
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

// Sizes from a NIfTI header, checked before ITK allocates anything: a finite,
// non-negative vox_offset, a known bitpix, dimensions that fit, and a voxel byte
// count the file can hold. For .nii.gz the gzip trailer only holds the length mod
// 2^32, so the bound is DEFLATE's maximum expansion (about 1032:1, zlib's FAQ): a
// 352-byte .nii.gz cannot decompress to the 10 GB its header may claim.
// No CT or mask of the sources comes near this (a 512x512x1000 int16 CT is 0.5 GB).
constexpr std::uint64_t kMaxNiftiVoxelBytes = std::uint64_t{16} << 30;

void check_nifti_header_sizes(const fs::path& file, const unsigned char* h, bool gz) {
  const bool swap = field<std::int32_t>(h, 0, false) != 348 && field<std::int32_t>(h, 0, false) != 540;
  if (field<std::int32_t>(h, 0, swap) == 348) {
    const float vox_offset = field<float>(h, 108, swap);
    if (!std::isfinite(vox_offset) || vox_offset < 0 || vox_offset > 1e12f)
      throw InputError(file, "NIfTI vox_offset " + std::to_string(vox_offset) + " is not a valid byte offset");
    const int ndim = field<std::int16_t>(h, 40, swap);
    if (ndim < 1 || ndim > 7) throw InputError(file, "NIfTI dim[0] = " + std::to_string(ndim) + " (expected 1..7)");
    for (int d = 1; d <= ndim; ++d)
      if (field<std::int16_t>(h, 40 + 2 * d, swap) < 0)
        throw InputError(file, "NIfTI dim[" + std::to_string(d) + "] is negative");
  } else if (field<std::int32_t>(h, 0, swap) == 540) {
    const auto vox_offset = field<std::int64_t>(h, 168, swap);
    const auto ndim = field<std::int64_t>(h, 16, swap);
    if (vox_offset < 0 || vox_offset > (std::int64_t{1} << 40))
      throw InputError(file, "NIfTI vox_offset " + std::to_string(vox_offset) + " is not a valid byte offset");
    if (ndim < 1 || ndim > 7) throw InputError(file, "NIfTI dim[0] = " + std::to_string(ndim) + " (expected 1..7)");
    for (int d = 1; d <= ndim; ++d) {
      const auto n = field<std::int64_t>(h, 16 + 8 * d, swap);
      if (n < 0 || n > (std::int64_t{1} << 31))
        throw InputError(file, "NIfTI dim[" + std::to_string(d) + "] = " + std::to_string(n) + " is out of range");
    }
  } else {
    return;  // expected_nifti_bytes names a bad header size
  }
  const bool v2 = field<std::int32_t>(h, 0, swap) == 540;
  const int bitpix = field<std::int16_t>(h, v2 ? 14 : 72, swap);
  if (bitpix <= 0 || bitpix > 256 || bitpix % 8 != 0)
    throw InputError(file, "NIfTI bitpix " + std::to_string(bitpix) + " is not a whole number of bytes");
  long double bytes = bitpix / 8;  // in floating point: the product of 7 dims may not fit 64 bits
  const int ndim = v2 ? static_cast<int>(field<std::int64_t>(h, 16, swap)) : field<std::int16_t>(h, 40, swap);
  for (int d = 1; d <= ndim; ++d)
    bytes *= std::max<long double>(1, v2 ? field<std::int64_t>(h, 16 + 8 * d, swap) : field<std::int16_t>(h, 40 + 2 * d, swap));
  if (bytes > static_cast<long double>(kMaxNiftiVoxelBytes))
    throw InputError(file, "NIfTI header claims " + std::to_string(static_cast<double>(bytes)) +
                               " bytes of voxels, more than the limit of " + std::to_string(kMaxNiftiVoxelBytes >> 30) + " GiB");
  const std::uint64_t expected = expected_nifti_bytes(file, h);
  const std::uint64_t on_disk = fs::file_size(file);
  constexpr std::uint64_t kMaxDeflateRatio = 1032, kSlack = 1 << 16;
  if (gz && expected / kMaxDeflateRatio > on_disk + kSlack)
    throw InputError(file, "NIfTI header claims " + std::to_string(expected) + " bytes, more than this " +
                               std::to_string(on_disk) + "-byte .nii.gz can hold");
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
  check_nifti_header_sizes(file, header, to_lower(file.filename().string()).ends_with(".gz"));
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

// ITK 5.2's NiftiImageIO keeps a function-level static std::string in its header read,
// which ThreadSanitizer reports as a race when several threads read volumes (concurrent
// NIfTI reads: InsightSoftwareConsortium/ITK#2003). The header read is serialised; the
// voxel read after it runs in parallel.
void read_information_serialised(itk::ImageFileReader<ItkVolume>& reader) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  reader.UpdateOutputInformation();
}

ItkVolume::Pointer read(const fs::path& file, bool pixels) {
  auto reader = itk::ImageFileReader<ItkVolume>::New();
  reader->SetImageIO(io_for(file));
  if (pixels) check_complete(file);
  reader->SetFileName(file.string());
  try {
    read_information_serialised(*reader);
    if (pixels) reader->Update();
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
