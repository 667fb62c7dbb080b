#include "common/io/volume_file.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkNiftiImageIO.h>

#include <sys/mman.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <type_traits>
#include <mutex>

#include "common/core/allocator.h"
#include "common/core/error.h"
#include "common/core/limits.h"
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
void check_nifti_name(const fs::path& file) {
  if (!fs::exists(file)) throw InputError(file, "file is missing");
  if (!is_nifti(file)) throw InputError(file, "not a NIfTI file (.nii or .nii.gz)");
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
// The voxel byte limit is InputLimits::nifti_voxel_bytes (--limit nifti_voxel_bytes).

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
  const std::uint64_t limit = input_limits().nifti_voxel_bytes;
  if (bytes > static_cast<long double>(limit))
    throw InputError(file, "NIfTI header claims " + std::to_string(static_cast<std::uint64_t>(bytes)) +
                               " bytes of voxels, more than the limit of " + std::to_string(limit) +
                               " (--limit nifti_voxel_bytes)");
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

// ITK 5.2 is not safe to use from several threads at once here, so every use of an ITK object
// (creation, header read, destruction) holds one mutex; only headers go through ITK (the voxels
// are read by read_voxels, in parallel):
//  * the first construction of an ImageFileReader registers ITK's global singletons in
//    itk::SingletonIndex's std::map without a lock; ThreadSanitizer (tools/tsan.sh) reports two
//    threads' ImageFileReader::New() racing in SingletonIndex::GetGlobalInstancePrivate, and a
//    crash from the same race in ITK 5.2.1 is InsightSoftwareConsortium/ITK issue #5493;
//  * NiftiImageIO's header read keeps a function-level static std::string.
Volume read_header_with_itk(const fs::path& file) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  auto reader = itk::ImageFileReader<ItkVolume>::New();
  reader->SetImageIO(itk::NiftiImageIO::New());  // named explicitly: see check_nifti_name
  reader->SetFileName(file.string());
  try {
    reader->UpdateOutputInformation();
  } catch (const itk::ExceptionObject& e) {
    throw InputError(file, std::string("cannot read NIfTI volume (") + e.GetDescription() + ")");
  }
  Volume v;
  copy_geometry(reader->GetOutput(), v);
  return v;
}

// Where and how the voxels are stored, from the raw NIfTI-1/-2 header.
struct VoxelLayout {
  std::int16_t datatype = 0;
  std::uint64_t offset = 0;  // vox_offset
  bool swap = false;
  double slope = 1, inter = 0;
  bool rescale = false;
};

VoxelLayout voxel_layout(const unsigned char* h) {
  VoxelLayout l;
  l.swap = field<std::int32_t>(h, 0, false) != 348 && field<std::int32_t>(h, 0, false) != 540;
  if (field<std::int32_t>(h, 0, l.swap) == 348) {
    l.datatype = field<std::int16_t>(h, 70, l.swap);
    l.offset = static_cast<std::uint64_t>(field<float>(h, 108, l.swap));
    l.slope = field<float>(h, 112, l.swap);
    l.inter = field<float>(h, 116, l.swap);
  } else {
    l.datatype = field<std::int16_t>(h, 12, l.swap);
    l.offset = static_cast<std::uint64_t>(field<std::int64_t>(h, 168, l.swap));
    l.slope = field<double>(h, 176, l.swap);
    l.inter = field<double>(h, 184, l.swap);
  }
  // ITK's NiftiImageIO (the reader this replaces, kept as the reference in
  // tests/unit/test_volume_file.cpp) treats slope 0 as 1 and then rescales
  // whenever (slope, inter) != (1, 0); non-finite values are ignored as in nibabel.
  if (!std::isfinite(l.slope) || !std::isfinite(l.inter)) l.slope = 1, l.inter = 0;
  if (l.slope == 0) l.slope = 1;
  l.rescale = l.slope != 1 || l.inter != 0;
  return l;
}

template <typename T>
T load(const unsigned char* p, bool swap) {
  T value;
  if (!swap) {
    std::memcpy(&value, p, sizeof(T));
  } else {
    unsigned char b[sizeof(T)];
    std::reverse_copy(p, p + sizeof(T), b);
    std::memcpy(&value, b, sizeof(T));
  }
  return value;
}

// One loop per case, so the common one (native byte order, no scaling)
// compiles to a vectorised widening copy.
template <typename T, bool Swap, bool Rescale>
void convert_as(const unsigned char* raw, std::size_t n, const VoxelLayout& l, float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const T v = load<T>(raw + i * sizeof(T), Swap);
    if constexpr (Rescale) out[i] = static_cast<float>(static_cast<double>(v) * l.slope + l.inter);
    else out[i] = static_cast<float>(v);
  }
}

template <typename T>
void convert(const unsigned char* raw, std::size_t n, const VoxelLayout& l, float* out) {
  if (l.swap) {
    if (l.rescale) convert_as<T, true, true>(raw, n, l, out);
    else convert_as<T, true, false>(raw, n, l, out);
  } else {
    if (l.rescale) convert_as<T, false, true>(raw, n, l, out);
    else convert_as<T, false, false>(raw, n, l, out);
  }
}

// The NIfTI datatype codes (nifti1.h) of the scalar types read here.
std::size_t bytes_per_voxel(const fs::path& file, std::int16_t datatype) {
  switch (datatype) {
    case 2: case 256: return 1;     // uint8, int8
    case 4: case 512: return 2;     // int16, uint16
    case 8: case 768: case 16: return 4;  // int32, uint32, float32
    case 64: case 1024: case 1280: return 8;  // float64, int64, uint64
    default:
      throw InputError(file, "unsupported NIfTI datatype " + std::to_string(datatype) + " (not a scalar volume)");
  }
}

void convert_chunk(std::int16_t datatype, const unsigned char* raw, std::size_t n, const VoxelLayout& l, float* out) {
  switch (datatype) {
    case 2: return convert<std::uint8_t>(raw, n, l, out);
    case 256: return convert<std::int8_t>(raw, n, l, out);
    case 4: return convert<std::int16_t>(raw, n, l, out);
    case 512: return convert<std::uint16_t>(raw, n, l, out);
    case 8: return convert<std::int32_t>(raw, n, l, out);
    case 768: return convert<std::uint32_t>(raw, n, l, out);
    case 16: return convert<float>(raw, n, l, out);
    case 64: return convert<double>(raw, n, l, out);
    case 1024: return convert<std::int64_t>(raw, n, l, out);
    case 1280: return convert<std::uint64_t>(raw, n, l, out);
  }
}

// madvise wants a page-aligned start; malloc's block starts just past its header.
void advise_huge_pages(void* data, std::size_t bytes) {
  const std::uintptr_t page = 4096, begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + page - 1) & ~(page - 1), end = (begin + bytes) & ~(page - 1);
  if (end > first) ::madvise(reinterpret_cast<void*>(first), end - first, MADV_HUGEPAGE);  // advice: failure is harmless
}

// The voxels in one pass: fixed-size chunks of the file (zlib reads .nii
// directly and inflates .nii.gz) are converted to float straight into the
// volume. ITK's reader touched a 512x512x400 CT four times on the way in
// (nifti's read buffer, ITK's buffer, the float conversion, the copy into
// Volume; issue 12); here the raw bytes only pass through a cache-sized chunk.
void read_voxels(const fs::path& file, Volume& v) {
  gzFile gz = gzopen(file.c_str(), "rb");
  if (!gz) throw InputError(file, "cannot open file");
  struct Closer {
    gzFile gz;
    ~Closer() { gzclose(gz); }
  } closer{gz};
  gzbuffer(gz, 1 << 18);
  unsigned char header[540] = {};
  if (gzread(gz, header, sizeof header) < 348) throw InputError(file, "truncated NIfTI (header incomplete)");
  const VoxelLayout layout = voxel_layout(header);
  const std::size_t bpv = bytes_per_voxel(file, layout.datatype);
  if (gzseek(gz, static_cast<z_off_t>(layout.offset), SEEK_SET) < 0) throw InputError(file, "cannot seek to the voxels");
  // Reserve first, so the kernel can back the buffer with huge pages before
  // it is first touched (numpy does the same for large arrays): a 512x512x400
  // float volume is 100k page faults with 4 KiB pages, 200 with 2 MiB ones.
  //
  // The volume is written once: each chunk is converted into a small
  // cache-resident staging buffer and appended, so the volume is never
  // zero-filled first (resize() would write all of it once more).
  v.voxels.clear();
  v.voxels.reserve(v.count());
  advise_huge_pages(v.voxels.data(), v.count() * sizeof(float));
  unit_bytes_read_by_this_thread() += v.count() * sizeof(float);
  constexpr std::size_t kChunkVoxels = std::size_t{1} << 16;  // 64 Ki voxels: at most 512 KiB of raw bytes
  constexpr std::size_t kStageVoxels = std::size_t{1} << 13;  // 32 KiB of floats
  thread_local std::vector<unsigned char> raw;
  thread_local std::vector<float> stage;
  raw.resize(kChunkVoxels * 8);
  stage.resize(kStageVoxels);
  for (std::size_t done = 0; done < v.count();) {
    const std::size_t n = std::min(kChunkVoxels, v.count() - done);
    const int got = gzread(gz, raw.data(), static_cast<unsigned>(n * bpv));
    if (got < 0 || static_cast<std::size_t>(got) != n * bpv)
      throw InputError(file, "truncated NIfTI (voxel data ends early)");
    for (std::size_t i = 0; i < n; i += kStageVoxels) {
      const std::size_t m = std::min(kStageVoxels, n - i);
      convert_chunk(layout.datatype, raw.data() + i * bpv, m, layout, stage.data());
      v.voxels.insert(v.voxels.end(), stage.data(), stage.data() + m);
    }
    done += n;
  }
}

}  // namespace

Volume read_volume_header(const fs::path& file) {
  check_nifti_name(file);
  return read_header_with_itk(file);
}

std::string probe_volume_file(const fs::path& file) {
  try {
    check_nifti_name(file);
    check_complete(file);
    return "";
  } catch (const InputError& e) {
    return e.reason();
  }
}

Volume read_volume_file(const fs::path& file) {
  check_nifti_name(file);  // missing or not NIfTI: say so before anything else
  check_complete(file);
  Volume v = read_volume_header(file);
  if (v.count() == 0) throw InputError(file, "empty volume");
  read_voxels(file, v);
  return v;
}

}  // namespace mmb
