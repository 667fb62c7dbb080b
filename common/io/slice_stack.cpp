#include "common/io/slice_stack.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "common/core/error.h"
#include "common/core/fd_io.h"
#include "common/io/files.h"
#include "common/io/image_file.h"

namespace fs = std::filesystem;

namespace mmb {

bool StackBox::inside(const StackShape& s) const {
  const int extent[3] = {s.width, s.height, s.depth};
  for (int a = 0; a < 3; ++a)
    if (start[a] < 0 || std::int64_t{start[a]} + size[a] > extent[a]) return false;  // no int overflow at INT_MAX
  return true;
}

namespace {

// The part of [start, start + size) inside [0, extent).
struct Span {
  int begin = 0, end = 0;
  bool empty() const { return end <= begin; }
  int size() const { return std::max(0, end - begin); }
};
Span clip(int start, int size, int extent) { return {std::max(start, 0), std::min(start + size, extent)}; }

struct ClippedBox {
  Span x, y, z;
  bool empty() const { return x.empty() || y.empty() || z.empty(); }
};
ClippedBox clip(const StackBox& b, const StackShape& s) {
  return {clip(b.start[0], b.size[0], s.width), clip(b.start[1], b.size[1], s.height),
          clip(b.start[2], b.size[2], s.depth)};
}

Image filled_box(const StackBox& b, std::uint8_t fill) {
  if (b.size[0] <= 0 || b.size[1] <= 0 || b.size[2] <= 0) throw std::invalid_argument("empty voxel box");
  Image out(b.size[0], b.size[1], b.size[2], 1);
  std::fill(out.pixels.begin(), out.pixels.end(), fill);
  return out;
}

}  // namespace

// ------------------------------------------------------------------ CropAssembly

namespace {

// Copies the part of `slice` inside the spans x, y into plane `plane` of dst,
// whose voxel (0, 0) is slice voxel (origin_x, origin_y).
void copy_rows(const Image& slice, const Span& x, const Span& y, Image& dst, int origin_x, int origin_y, int plane) {
  for (int row = y.begin; row < y.end; ++row)
    std::memcpy(dst.ptr(x.begin - origin_x, row - origin_y, plane), slice.ptr(x.begin, row), static_cast<std::size_t>(x.size()));
}

// The clipped voxels of a box, placed into a full box filled with `fill`.
Image place_in_box(const Image& clipped_voxels, const ClippedBox& c, const StackBox& box, std::uint8_t fill) {
  Image out = filled_box(box, fill);
  for (int z = 0; z < c.z.size(); ++z)
    for (int y = 0; y < c.y.size(); ++y)
      std::memcpy(out.ptr(c.x.begin - box.start[0], c.y.begin + y - box.start[1], c.z.begin + z - box.start[2]),
                  clipped_voxels.ptr(0, y, z), static_cast<std::size_t>(c.x.size()));
  return out;
}

}  // namespace

struct CropAssembly::Crop {
  ClippedBox region;          // the part inside the stack
  Image voxels;               // region-sized, allocated when its first slice arrives
  std::exception_ptr error;   // the first slice that failed to decode
  int slices_left = 0;        // slices not yet copied in
  bool taken = false;         // a reader holds it: never spilled
  bool spilled = false;       // voxels live in the spill file at spill_offset
  std::uint64_t spill_offset = 0;
};

// An unlinked file in $TMPDIR (or /tmp) that crops past the budget wait in; the
// kernel frees it when it is closed, whatever happens to the process.
class CropAssembly::SpillFile {
 public:
  SpillFile() {
    const char* env = std::getenv("TMPDIR");
    std::string name = std::string(env && *env ? env : "/tmp") + "/medmnist-build-crops-XXXXXX";
    fd_ = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd_ < 0) fail(name, "cannot create a spill file for waiting crops");
    ::unlink(name.c_str());
    path_ = name;
  }
  ~SpillFile() { ::close(fd_); }

  // Room for n bytes at the end; called under the assembly's lock.
  std::uint64_t reserve(std::size_t n) {
    const std::uint64_t at = end_;
    end_ += n;
    return at;
  }

  // Thread-safe: distinct planes go to distinct offsets.
  void write_at(std::uint64_t at, const std::vector<std::uint8_t>& bytes) const {
    if (!pwrite_fully(fd_, bytes.data(), bytes.size(), at)) fail(path_, "cannot write waiting crops (disk full?)");
  }

  void read(std::uint64_t at, std::vector<std::uint8_t>& bytes) const {
    if (!pread_fully(fd_, bytes.data(), bytes.size(), at)) fail(path_, "cannot read back a waiting crop");
  }

 private:
  [[noreturn]] static void fail(const std::string& path, const std::string& what) {
    throw std::runtime_error(path + ": " + what + ": " + std::strerror(errno ? errno : EIO));
  }
  int fd_ = -1;
  std::string path_;
  std::uint64_t end_ = 0;
};

CropAssembly::CropAssembly(StackShape shape, Decode decode, std::size_t memory_budget)
    : shape_(shape), decode_(std::move(decode)),
      state_(static_cast<std::size_t>(std::max(shape.depth, 0)), SliceState::Pending),
      users_(state_.size()), memory_budget_(memory_budget) {}

CropAssembly::~CropAssembly() = default;

void CropAssembly::expect(const StackBox& box) {
  const auto c = clip(box, shape_);
  if (c.empty()) return;  // nothing to read: the whole box is fill
  std::lock_guard lock(mutex_);
  for (int z = c.z.begin; z < c.z.end; ++z)
    if (state_[z] != SliceState::Pending) return;  // announced too late: read_box decodes on its own
  auto crop = std::make_shared<Crop>();
  crop->region = c;
  crop->slices_left = c.z.size();
  for (int z = c.z.begin; z < c.z.end; ++z) users_[z].push_back(crop);
  crops_.emplace(box, std::move(crop));
}

// Decodes slice z and copies it into every crop that contains it. Called and
// returns with the lock held; decodes and copies without it.
void CropAssembly::fill_slice(int z, std::unique_lock<std::mutex>& lock) {
  state_[z] = SliceState::Decoding;
  ++stats_.decodes;
  stats_.peak_slices = std::max(stats_.peak_slices, ++slices_in_memory_);
  const auto users = std::move(users_[z]);
  users_[z].clear();
  for (const auto& crop : users)
    if (crop->voxels.empty() && !crop->spilled && !crop->error) place(*crop);
  // Where each crop's plane goes, decided under the lock.
  struct Target {
    Crop* crop;
    bool to_disk;
  };
  std::vector<Target> targets;
  for (const auto& crop : users)
    if (!crop->error) targets.push_back({crop.get(), crop->spilled});
  lock.unlock();
  std::exception_ptr error;
  try {
    const Image slice = decode_(z);
    thread_local Image plane;
    for (const auto& [crop, to_disk] : targets) {  // each decoder writes its own plane: no race
      const auto& r = crop->region;
      const int k = z - r.z.begin;
      if (!to_disk) {
        copy_rows(slice, r.x, r.y, crop->voxels, r.x.begin, r.y.begin, k);
        continue;
      }
      if (plane.width != r.x.size() || plane.height != r.y.size()) plane = Image(r.x.size(), r.y.size(), 1, 1);
      copy_rows(slice, r.x, r.y, plane, r.x.begin, r.y.begin, 0);
      spill_->write_at(crop->spill_offset + static_cast<std::uint64_t>(k) * plane.pixels.size(), plane.pixels);
    }
  } catch (...) {
    error = std::current_exception();
  }
  lock.lock();
  --slices_in_memory_;
  for (const auto& crop : users) {
    if (error && !crop->error) crop->error = error;
    --crop->slices_left;
  }
  state_[z] = SliceState::Done;
  slice_done_.notify_all();
}

// Called with the lock held, when a crop's first slice arrives. A crop that
// is not being read yet waits in memory only while the waiting crops stay
// within the budget; otherwise it is assembled in the spill file plane by
// plane, so waiting crops never exceed the budget (issue 12: they reached
// 294 MiB of a 256 MB budget when only complete crops were spilled). A crop
// being read is in flight, not waiting: it is always in memory.
void CropAssembly::place(Crop& crop) {
  const auto& r = crop.region;
  const std::size_t bytes = static_cast<std::size_t>(r.x.size()) * r.y.size() * r.z.size();
  if (crop.taken || waiting_bytes_ + bytes <= memory_budget_) {
    crop.voxels = Image(r.x.size(), r.y.size(), r.z.size(), 1);
    if (!crop.taken) waiting_bytes_ += bytes;
    stats_.peak_waiting_bytes = std::max(stats_.peak_waiting_bytes, waiting_bytes_);
    return;
  }
  try {
    if (!spill_) spill_ = std::make_unique<SpillFile>();
    crop.spill_offset = spill_->reserve(bytes);
    crop.spilled = true;
    ++stats_.spilled_crops;
  } catch (...) {
    crop.error = std::current_exception();  // reported by the read of this crop
  }
}

Image CropAssembly::read(const StackBox& box, std::uint8_t fill) {
  const auto c = clip(box, shape_);
  if (c.empty()) return filled_box(box, fill);
  std::unique_lock lock(mutex_);
  auto it = crops_.find(box);
  if (it == crops_.end()) {
    lock.unlock();
    return read_unannounced(box, fill);
  }
  const std::shared_ptr<Crop> crop = std::move(it->second);
  crops_.erase(it);  // a second announced read of the same box takes the next entry
  crop->taken = true;
  if (!crop->voxels.empty()) waiting_bytes_ -= crop->voxels.pixels.size();  // in flight now, no longer waiting
  for (int z = c.z.begin; z < c.z.end; ++z) {
    slice_done_.wait(lock, [&] { return state_[z] != SliceState::Decoding; });
    if (state_[z] == SliceState::Pending) fill_slice(z, lock);
  }
  lock.unlock();
  if (crop->error) std::rethrow_exception(crop->error);
  if (crop->spilled) {
    const auto& r = crop->region;
    crop->voxels = Image(r.x.size(), r.y.size(), r.z.size(), 1);
    spill_->read(crop->spill_offset, crop->voxels.pixels);
  }
  return place_in_box(crop->voxels, c, box, fill);
}

Image CropAssembly::read_unannounced(const StackBox& box, std::uint8_t fill) {
  const auto c = clip(box, shape_);
  Image voxels(c.x.size(), c.y.size(), c.z.size(), 1);
  for (int z = c.z.begin; z < c.z.end; ++z) {
    {
      std::lock_guard lock(mutex_);
      ++stats_.decodes;
    }
    copy_rows(decode_(z), c.x, c.y, voxels, c.x.begin, c.y.begin, z - c.z.begin);
  }
  return place_in_box(voxels, c, box, fill);
}

SliceStackStats CropAssembly::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::size_t CropAssembly::waiting_crops() const {
  std::lock_guard lock(mutex_);
  return crops_.size();
}

namespace {

// ------------------------------------------------------------------ folder of slices

// "im0017.png" -> prefix "im", number 17, digits 4, extension ".png".
struct SliceName {
  std::string prefix, extension;
  long number = -1;
  int digits = 0;
};

SliceName parse_slice_name(const fs::path& file) {
  SliceName n;
  const std::string stem = file.stem().string();
  std::size_t cut = stem.size();
  while (cut > 0 && std::isdigit(static_cast<unsigned char>(stem[cut - 1]))) --cut;
  n.prefix = stem.substr(0, cut);
  n.extension = to_lower(file.extension().string());
  n.digits = static_cast<int>(stem.size() - cut);
  if (n.digits > 0 && n.digits < 10) n.number = std::stol(stem.substr(cut));
  return n;
}

bool is_slice_extension(const std::string& ext) { return ext == ".png" || ext == ".tif" || ext == ".tiff"; }

class FolderStack final : public SliceStack {
 public:
  FolderStack(const fs::path& dir, const SliceStackOptions& options) {
    path_ = dir;
    index_slices(dir);
    const Image first = decode_file(by_number_.begin()->second, /*check_shape=*/false);
    shape_ = {first.width, first.height, static_cast<int>(last_ - first_ + 1)};
    assembly_ = std::make_unique<CropAssembly>(
        shape_, [this](int z) { return decode_slice(z); }, options.waiting_crop_bytes);
  }

  void expect(const StackBox& box) override { assembly_->expect(box); }
  Image read_box(const StackBox& box, std::uint8_t fill) override { return assembly_->read(box, fill); }
  SliceStackStats stats() const override { return assembly_->stats(); }

 private:
  void index_slices(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw InputError(dir, "slice folder is missing");
    std::map<std::pair<std::string, std::string>, std::vector<std::pair<SliceName, fs::path>>> groups;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const fs::path p = entry.path();
      if (!entry.is_regular_file() || is_junk_name(p.filename().string())) continue;
      const SliceName n = parse_slice_name(p);
      if (!is_slice_extension(n.extension)) continue;
      if (n.number < 0) unexpected_.push_back(p);
      else groups[{n.prefix, n.extension}].push_back({n, p});
    }
    if (groups.empty()) throw InputError(dir, "no numbered PNG or TIFF slices (like im0000.png) in the folder");
    auto stack = std::max_element(groups.begin(), groups.end(),
                                  [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
    for (auto it = groups.begin(); it != groups.end(); ++it)
      if (it != stack)
        for (const auto& [n, p] : it->second) unexpected_.push_back(p);
    name_ = stack->second.front().first;
    for (const auto& [n, p] : stack->second)
      if (!by_number_.emplace(n.number, p).second) unexpected_.push_back(p);  // im17 beside im0017
    first_ = by_number_.begin()->first;
    last_ = by_number_.rbegin()->first;
    // A stray im999999999.png beside im0000..im0099 would make a 10^9-slice stack (and
    // list 10^9 missing slices): a numbering far sparser than the files is an error.
    const long span = last_ - first_ + 1, count = static_cast<long>(by_number_.size());
    if (span > 2 * count + 16)
      throw InputError(by_number_.rbegin()->second, "slice numbers run from " + std::to_string(first_) + " to " +
                                                        std::to_string(last_) + " but only " + std::to_string(count) +
                                                        " slices exist (a stray file?)");
    for (long k = first_; k <= last_; ++k)
      if (!by_number_.count(k)) missing_.push_back(slice_path(k));
    std::sort(unexpected_.begin(), unexpected_.end());
  }

  fs::path slice_path(long number) const {
    auto it = by_number_.find(number);
    if (it != by_number_.end()) return it->second;
    std::string digits = std::to_string(number);
    if (static_cast<int>(digits.size()) < name_.digits) digits.insert(0, name_.digits - digits.size(), '0');
    return path_ / (name_.prefix + digits + name_.extension);
  }

  Image decode_slice(int z) const {
    const fs::path file = slice_path(first_ + z);
    if (!by_number_.count(first_ + z)) throw InputError(file, "slice " + std::to_string(z) + " is missing (a gap in the numbering)");
    return decode_file(file, /*check_shape=*/true);
  }

  Image decode_file(const fs::path& file, bool check_shape) const {
    Image img = read_image_file(file);
    if (img.channels != 1)
      throw InputError(file, "expected a gray slice, got " + std::to_string(img.channels) + " channels");
    if (check_shape && (img.width != shape_.width || img.height != shape_.height))
      throw InputError(file, "slice is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                                 ", the stack's first slice is " + std::to_string(shape_.width) + "x" +
                                 std::to_string(shape_.height));
    return img;
  }

  SliceName name_;
  std::map<long, fs::path> by_number_;
  long first_ = 0, last_ = 0;
  std::unique_ptr<CropAssembly> assembly_;
};

// ------------------------------------------------------------------ HDF5

// Closes an HDF5 handle at scope exit. A stack kept until program exit (the
// converter keeps the last one) outlives the library, which closes every id
// in its atexit handler: then there is nothing left to close.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() { reset(-1); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  void reset(hid_t id) {
    if (id_ >= 0) {
      H5E_BEGIN_TRY {
        if (H5Iis_valid(id_) > 0) close_(id_);
      }
      H5E_END_TRY;
    }
    id_ = id;
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Every 3D dataset in the file, by path.
herr_t collect_3d_dataset(hid_t group, const char* name, const H5L_info_t*, void* out) {
  hid_t d;
  H5E_BEGIN_TRY { d = H5Dopen2(group, name, H5P_DEFAULT); }
  H5E_END_TRY;
  if (d < 0) return 0;
  const Handle dataset(d, H5Dclose), space(H5Dget_space(d), H5Sclose);
  if (H5Sget_simple_extent_ndims(space.get()) == 3) static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

class Hdf5Stack final : public SliceStack {
 public:
  Hdf5Stack(const fs::path& file, const SliceStackOptions& o) : file_(-1, H5Fclose), dataset_(-1, H5Dclose) {
    path_ = file;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw InputError(file, "HDF5 file is missing");
    hid_t f;
    H5E_BEGIN_TRY { f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (f < 0) throw InputError(file, "cannot open as HDF5 (not an HDF5 file, truncated or corrupt)");
    file_.reset(f);
    name_ = o.hdf5_dataset.empty() ? only_3d_dataset() : o.hdf5_dataset;
    open_dataset(o.hdf5_chunk_cache_bytes);
  }

  Image read_box(const StackBox& box, std::uint8_t fill) override {
    Image out = filled_box(box, fill);
    const auto c = clip(box, shape_);
    if (c.empty()) return out;
    std::vector<std::uint8_t> buffer(static_cast<std::size_t>(c.x.size()) * c.y.size() * c.z.size());
    read_hyperslab(c, buffer.data());
    const std::uint8_t* src = buffer.data();
    for (int z = c.z.begin; z < c.z.end; ++z)
      for (int y = c.y.begin; y < c.y.end; ++y, src += c.x.size())
        std::memcpy(out.ptr(c.x.begin - box.start[0], y - box.start[1], z - box.start[2]), src,
                    static_cast<std::size_t>(c.x.size()));
    return out;
  }

  SliceStackStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  std::string only_3d_dataset() const {
    std::vector<std::string> found;
    H5Lvisit(file_.get(), H5_INDEX_NAME, H5_ITER_INC, collect_3d_dataset, &found);
    if (found.size() != 1)
      throw InputError(path_, std::to_string(found.size()) + " 3D datasets in the file; name one (dataset = \"...\")");
    return found.front();
  }

  void open_dataset(std::size_t chunk_cache_bytes) {
    const Handle access(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
    H5Pset_chunk_cache(access.get(), 12421, chunk_cache_bytes, 0.75);  // 12421: a prime, as HDF5 advises
    hid_t d;
    H5E_BEGIN_TRY { d = H5Dopen2(file_.get(), name_.c_str(), access.get()); }
    H5E_END_TRY;
    if (d < 0) throw InputError(path_, "no dataset '" + name_ + "'");
    dataset_.reset(d);
    const Handle type(H5Dget_type(d), H5Tclose), space(H5Dget_space(d), H5Sclose);
    const bool u8 = H5Tget_class(type.get()) == H5T_INTEGER && H5Tget_size(type.get()) == 1 &&
                    H5Tget_sign(type.get()) == H5T_SGN_NONE;
    if (!u8) throw InputError(path_, "dataset '" + name_ + "' is not unsigned 8-bit");
    hsize_t dims[3] = {0, 0, 0};
    if (H5Sget_simple_extent_ndims(space.get()) != 3) throw InputError(path_, "dataset '" + name_ + "' is not 3D");
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    const hsize_t limit = static_cast<hsize_t>(std::numeric_limits<int>::max());
    if (dims[0] > limit || dims[1] > limit || dims[2] > limit) throw InputError(path_, "dataset too large");
    shape_ = {static_cast<int>(dims[2]), static_cast<int>(dims[1]), static_cast<int>(dims[0])};  // (z, y, x) on disk
  }

  void read_hyperslab(const ClippedBox& c, std::uint8_t* buffer) {
    const hsize_t start[3] = {hsize_t(c.z.begin), hsize_t(c.y.begin), hsize_t(c.x.begin)};
    const hsize_t count[3] = {hsize_t(c.z.size()), hsize_t(c.y.size()), hsize_t(c.x.size())};
    std::lock_guard lock(mutex_);  // one HDF5 call at a time (the library serialises anyway)
    const Handle file_space(H5Dget_space(dataset_.get()), H5Sclose), memory(H5Screate_simple(3, count, nullptr), H5Sclose);
    herr_t status;
    H5E_BEGIN_TRY {
      status = H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
      if (status >= 0) status = H5Dread(dataset_.get(), H5T_NATIVE_UINT8, memory.get(), file_space.get(), H5P_DEFAULT, buffer);
    }
    H5E_END_TRY;
    ++stats_.decodes;
    if (status < 0)
      throw InputError(path_, "cannot read z " + std::to_string(c.z.begin) + ".." + std::to_string(c.z.end - 1) +
                                  " of dataset '" + name_ + "' (truncated or corrupt file?)");
  }

  Handle file_, dataset_;
  std::string name_;
  mutable std::mutex mutex_;
  SliceStackStats stats_;
};

}  // namespace

std::unique_ptr<SliceStack> open_slice_stack(const fs::path& path, const SliceStackOptions& options) {
  const std::string ext = to_lower(path.extension().string());
  if (ext == ".h5" || ext == ".hdf5" || ext == ".hdf") return std::make_unique<Hdf5Stack>(path, options);
  return std::make_unique<FolderStack>(path, options);
}

}  // namespace mmb
