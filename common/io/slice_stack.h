#pragma once
// A large 3D image stored as a z-stack, read box by box and never whole.
//
// Two storages (docs/datasets/synapsemnist3d.md):
//  * a folder of numbered 2D slices, PNG or TIFF (MitoEM-R: im/im0000.png ...
//    im0999.png, 4096 x 4096 8-bit each; Wei et al., MitoEM, MICCAI 2020, archive
//    EM30-R-im.zip, as read by pytorch_connectomics and torch-em). Slice z is the file
//    numbered first + z; a gap in the numbering is a missing slice.
//  * an HDF5 file holding a 3D unsigned 8-bit dataset with axes (z, y, x), read
//    by hyperslab: a box read touches only the chunks it intersects.
//
// Slice files cannot be decoded in part, and the pipeline writes train, then
// val, then test, so a z-ordered pass over one split would decode the same
// slices again for the next. The folder stack avoids both with CropAssembly:
//  * expect(box) announces a future read_box(box) (one per crop, at
//    enumeration, before any read);
//  * when a read needs slice z, z is decoded once and its rows are copied
//    into every announced crop that contains z, then the slice is released:
//    no remaining crop needs it. Threads needing a slice that is being
//    decoded wait for that decode;
//  * a crop is handed out (and its buffer freed) once all its slices have
//    been copied; crops of later splits wait. A crop whose first slice
//    arrives while the waiting crops already fill the memory budget is
//    assembled in an unlinked temporary file instead, plane by plane, and
//    read back when its turn comes.
// So every slice is decoded at most once, decoded slices live only while they
// are copied (one per worker thread), and memory is bounded by the budget plus
// the crops being read (one per worker thread), independent of the volume's
// size and of the number of crops. A read never
// announced decodes its own slices.
#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "common/core/image.h"

namespace mmb {

struct StackShape {
  int width = 0, height = 0, depth = 0;  // x, y, z extents
};

// A box of voxels; it may reach outside the stack.
struct StackBox {
  std::array<int, 3> start{};  // x, y, z of the first voxel
  std::array<int, 3> size{};   // voxels along x, y, z
  bool inside(const StackShape& s) const;
  bool operator<(const StackBox& o) const { return std::tie(start, size) < std::tie(o.start, o.size); }
};

struct SliceStackOptions {
  std::string hdf5_dataset;                        // HDF5: dataset path; "" = the file's only 3D dataset
  std::size_t hdf5_chunk_cache_bytes = 64u << 20;  // HDF5 raw-data chunk cache per dataset
  std::size_t waiting_crop_bytes = 256u << 20;     // folder: waiting crops held in memory; more go to disk
};

struct SliceStackStats {
  std::size_t decodes = 0;             // slice decodes (folder) or hyperslab reads (HDF5)
  std::size_t peak_slices = 0;         // most decoded slices in memory at once (folder)
  std::size_t peak_waiting_bytes = 0;  // most bytes of announced, not yet read crops in memory at once (folder)
  std::size_t spilled_crops = 0;       // crops assembled on disk, past the budget (folder)
};

class SliceStack {
 public:
  virtual ~SliceStack() = default;
  const std::filesystem::path& path() const { return path_; }
  const StackShape& shape() const { return shape_; }
  // Slice files absent from the numbering (folder stacks), for `check`.
  const std::vector<std::filesystem::path>& missing_slices() const { return missing_; }
  // Files in the folder that are not slices of the stack.
  const std::vector<std::filesystem::path>& unexpected_files() const { return unexpected_; }

  // Announces one future read_box(box); call before reading starts.
  virtual void expect(const StackBox&) {}
  // The voxels of box (x fastest), voxels outside the stack set to fill.
  // Thread-safe. Throws InputError naming the slice file (or the HDF5 file).
  virtual Image read_box(const StackBox& box, std::uint8_t fill) = 0;
  virtual SliceStackStats stats() const = 0;

 protected:
  std::filesystem::path path_;
  StackShape shape_;
  std::vector<std::filesystem::path> missing_, unexpected_;
};

// A folder of slices, or an .h5/.hdf5 file. Reads only headers (and the first
// slice of a folder, for the extent). Throws InputError(path, reason).
std::unique_ptr<SliceStack> open_slice_stack(const std::filesystem::path& path, const SliceStackOptions& options = {});

// The decode-once fan-out behind folder stacks (see above), usable on its own.
class CropAssembly {
 public:
  using Decode = std::function<Image(int z)>;  // one whole slice; may throw
  CropAssembly(StackShape shape, Decode decode, std::size_t memory_budget = SliceStackOptions{}.waiting_crop_bytes);
  ~CropAssembly();

  void expect(const StackBox& box);
  Image read(const StackBox& box, std::uint8_t fill);
  SliceStackStats stats() const;
  std::size_t waiting_crops() const;  // announced, not yet read

 private:
  struct Crop;
  enum class SliceState { Pending, Decoding, Done };
  class SpillFile;
  void fill_slice(int z, std::unique_lock<std::mutex>& lock);
  void place(Crop& crop);
  Image read_unannounced(const StackBox& box, std::uint8_t fill);

  StackShape shape_;
  Decode decode_;
  mutable std::mutex mutex_;
  std::condition_variable slice_done_;
  std::vector<SliceState> state_;                          // per slice
  std::vector<std::vector<std::shared_ptr<Crop>>> users_;  // per slice: announced crops containing it
  std::multimap<StackBox, std::shared_ptr<Crop>> crops_;
  std::size_t slices_in_memory_ = 0, waiting_bytes_ = 0, memory_budget_;
  std::unique_ptr<SpillFile> spill_;  // created by the first spill
  SliceStackStats stats_;
};

}  // namespace mmb
