// Z-stacks read box by box (common/io/slice_stack.h): slice folders (PNG,
// TIFF), HDF5 hyperslabs, and the slice cache's decode-once / free-after-last-use rules.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <oneapi/tbb/parallel_for.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "common/core/error.h"
#include "common/io/slice_stack.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

constexpr int W = 40, H = 24, D = 12;

std::uint8_t voxel(int x, int y, int z) { return static_cast<std::uint8_t>((x + 3 * y + 7 * z) % 251); }

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("mmb-stack-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

cv::Mat slice_mat(int z) {
  cv::Mat m(H, W, CV_8UC1);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) m.at<std::uint8_t>(y, x) = voxel(x, y, z);
  return m;
}

// im0000.png ... (or another pattern) for z = 0..D-1.
void write_slices(const fs::path& dir, const char* pattern = "im%04d.png") {
  fs::create_directories(dir);
  for (int z = 0; z < D; ++z) {
    char name[64];
    std::snprintf(name, sizeof name, pattern, z);
    ASSERT_TRUE(cv::imwrite((dir / name).string(), slice_mat(z)));
  }
}

void write_hdf5(const fs::path& file, bool second_3d = false, hid_t type = H5T_NATIVE_UINT8) {
  const hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[3] = {D, H, W};
  const hid_t space = H5Screate_simple(3, dims, nullptr);
  const hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
  const hsize_t chunk[3] = {4, 8, 8};
  H5Pset_chunk(plist, 3, chunk);
  H5Pset_deflate(plist, 1);
  const hid_t ds = H5Dcreate2(f, "main", type == H5T_NATIVE_UINT8 ? H5T_STD_U8LE : H5T_STD_U16LE, space, H5P_DEFAULT,
                              plist, H5P_DEFAULT);
  std::vector<std::uint16_t> wide(static_cast<std::size_t>(D) * H * W);
  std::vector<std::uint8_t> narrow(wide.size());
  for (int z = 0; z < D; ++z)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) wide[(static_cast<std::size_t>(z) * H + y) * W + x] = narrow[(static_cast<std::size_t>(z) * H + y) * W + x] = voxel(x, y, z);
  if (type == H5T_NATIVE_UINT8) H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, narrow.data());
  else H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, wide.data());
  if (second_3d) {
    const hid_t other = H5Dcreate2(f, "labels", H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(other);
  }
  H5Dclose(ds);
  H5Pclose(plist);
  H5Sclose(space);
  H5Fclose(f);
}

// Expected box contents: the voxel formula inside, fill outside.
void expect_box(const Image& img, const StackBox& b, std::uint8_t fill) {
  ASSERT_EQ(img.width, b.size[0]);
  ASSERT_EQ(img.height, b.size[1]);
  ASSERT_EQ(img.depth, b.size[2]);
  for (int z = 0; z < b.size[2]; ++z)
    for (int y = 0; y < b.size[1]; ++y)
      for (int x = 0; x < b.size[0]; ++x) {
        const int gx = b.start[0] + x, gy = b.start[1] + y, gz = b.start[2] + z;
        const bool in = gx >= 0 && gx < W && gy >= 0 && gy < H && gz >= 0 && gz < D;
        ASSERT_EQ(img.at(x, y, z), in ? voxel(gx, gy, gz) : fill) << gx << "," << gy << "," << gz;
      }
}

std::string reason_of(const std::function<void()>& f, fs::path* where = nullptr) {
  try {
    f();
  } catch (const InputError& e) {
    if (where) *where = e.path();
    return e.reason();
  }
  return "no error";
}

const StackBox kInside{{5, 3, 2}, {16, 10, 6}};
const StackBox kAcrossCorner{{-4, 18, 9}, {10, 10, 6}};
const StackBox kOutside{{50, 0, 0}, {4, 4, 4}};

}  // namespace

TEST(SliceStack, PngFolderReadsBoxesAndPadsOutside) {
  const TempDir dir;
  write_slices(dir.path() / "im");
  std::ofstream(dir.path() / "im" / ".DS_Store") << "junk";
  auto stack = open_slice_stack(dir.path() / "im");
  EXPECT_EQ(stack->shape().width, W);
  EXPECT_EQ(stack->shape().height, H);
  EXPECT_EQ(stack->shape().depth, D);
  EXPECT_TRUE(stack->missing_slices().empty());
  EXPECT_TRUE(stack->unexpected_files().empty());
  expect_box(stack->read_box(kInside, 0), kInside, 0);
  expect_box(stack->read_box(kAcrossCorner, 9), kAcrossCorner, 9);
  expect_box(stack->read_box(kOutside, 200), kOutside, 200);
  EXPECT_TRUE(kInside.inside(stack->shape()));
  EXPECT_FALSE(kAcrossCorner.inside(stack->shape()));
}

TEST(SliceStack, TiffSlicesAndUnpaddedNumbersInNumericOrder) {
  const TempDir dir;
  write_slices(dir.path(), "slice_%d.tif");  // slice_2 before slice_10
  std::ofstream(dir.path() / "overview.tif") << "not a slice";
  auto stack = open_slice_stack(dir.path());
  EXPECT_EQ(stack->shape().depth, D);
  ASSERT_EQ(stack->unexpected_files().size(), 1u);
  EXPECT_EQ(stack->unexpected_files()[0].filename(), "overview.tif");
  const StackBox all{{0, 0, 0}, {W, H, D}};
  expect_box(stack->read_box(all, 0), all, 0);
}

TEST(SliceStack, GapInTheNumberingIsAMissingSliceNamedWhenRead) {
  const TempDir dir;
  write_slices(dir.path());
  fs::remove(dir.path() / "im0007.png");
  auto stack = open_slice_stack(dir.path());
  ASSERT_EQ(stack->missing_slices(), std::vector<fs::path>{dir.path() / "im0007.png"});
  fs::path where;
  EXPECT_NE(reason_of([&] { stack->read_box({{0, 0, 5}, {4, 4, 4}}, 0); }, &where).find("missing"), std::string::npos);
  EXPECT_EQ(where, dir.path() / "im0007.png");
  expect_box(stack->read_box({{0, 0, 0}, {4, 4, 5}}, 0), {{0, 0, 0}, {4, 4, 5}}, 0);
}

TEST(SliceStack, TruncatedOrMismatchedSlicesAreNamed) {
  const TempDir dir;
  write_slices(dir.path());
  fs::resize_file(dir.path() / "im0003.png", fs::file_size(dir.path() / "im0003.png") / 2);
  cv::imwrite((dir.path() / "im0009.png").string(), cv::Mat(H + 1, W, CV_8UC1, cv::Scalar(1)));
  auto stack = open_slice_stack(dir.path());
  fs::path where;
  EXPECT_NE(reason_of([&] { stack->read_box({{0, 0, 2}, {4, 4, 3}}, 0); }, &where).find("truncated"), std::string::npos);
  EXPECT_EQ(where, dir.path() / "im0003.png");
  EXPECT_NE(reason_of([&] { stack->read_box({{0, 0, 9}, {4, 4, 1}}, 0); }, &where).find("40x25"), std::string::npos);
  EXPECT_EQ(where, dir.path() / "im0009.png");
  EXPECT_NE(reason_of([&] { open_slice_stack(dir.path() / "absent"); }).find("missing"), std::string::npos);
}

TEST(SliceStack, Hdf5HyperslabsMatchTheSlices) {
  const TempDir dir;
  write_hdf5(dir.path() / "v.h5");
  auto stack = open_slice_stack(dir.path() / "v.h5");
  EXPECT_EQ(stack->shape().width, W);
  EXPECT_EQ(stack->shape().depth, D);
  expect_box(stack->read_box(kInside, 0), kInside, 0);
  expect_box(stack->read_box(kAcrossCorner, 7), kAcrossCorner, 7);
  expect_box(stack->read_box(kOutside, 1), kOutside, 1);
  EXPECT_EQ(stack->stats().decodes, 2u);  // one hyperslab per box that touches the volume
}

TEST(SliceStack, Hdf5ProblemsAreNamed) {
  const TempDir dir;
  write_hdf5(dir.path() / "two.h5", /*second_3d=*/true);
  EXPECT_NE(reason_of([&] { open_slice_stack(dir.path() / "two.h5"); }).find("name one"), std::string::npos);
  SliceStackOptions named;
  named.hdf5_dataset = "main";
  expect_box(open_slice_stack(dir.path() / "two.h5", named)->read_box(kInside, 0), kInside, 0);
  named.hdf5_dataset = "nope";
  EXPECT_NE(reason_of([&] { open_slice_stack(dir.path() / "two.h5", named); }).find("no dataset 'nope'"), std::string::npos);
  write_hdf5(dir.path() / "wide.h5", false, H5T_NATIVE_UINT16);
  EXPECT_NE(reason_of([&] { open_slice_stack(dir.path() / "wide.h5"); }).find("not unsigned 8-bit"), std::string::npos);
  write_hdf5(dir.path() / "cut.h5");
  fs::resize_file(dir.path() / "cut.h5", fs::file_size(dir.path() / "cut.h5") / 3);
  fs::path where;
  const std::string cut = reason_of([&] { open_slice_stack(dir.path() / "cut.h5")->read_box(kInside, 0); }, &where);
  EXPECT_NE(cut, "no error");
  EXPECT_EQ(where, dir.path() / "cut.h5");
}

namespace {

// A stack of D slices of W x H decoded by the voxel formula, counting decodes.
struct CountingSlices {
  std::atomic<int> decodes{0};
  int fail_at = -1;
  CropAssembly::Decode decode() {
    return [this](int z) {
      ++decodes;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (z == fail_at) throw InputError("im0005.png", "truncated PNG");
      Image img(W, H, 1, 1);
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) img.at(x, y) = voxel(x, y, z);
      return img;
    };
  }
};

const StackShape kShape{W, H, D};

}  // namespace

TEST(CropAssembly, EachSliceIsDecodedOnceWhateverTheReadOrder) {
  // Split-major order: train crops in z order, then val, then test, which
  // revisit the same slices. Every slice must still be decoded once.
  CountingSlices slices;
  CropAssembly assembly(kShape, slices.decode());
  const std::vector<StackBox> train{{{0, 0, 0}, {8, 8, 4}}, {{4, 2, 3}, {8, 8, 4}}, {{10, 5, 8}, {8, 8, 4}}};
  const std::vector<StackBox> test{{{20, 1, 1}, {8, 8, 4}}, {{-3, 20, 9}, {8, 8, 4}}};
  for (const auto& b : train) assembly.expect(b);
  for (const auto& b : test) assembly.expect(b);
  for (const auto& b : train) expect_box(assembly.read(b, 0), b, 0);
  EXPECT_EQ(slices.decodes, 11);              // slices 0..6 and 8..11, each once
  EXPECT_EQ(assembly.waiting_crops(), 2u);    // the test crops, already complete
  for (const auto& b : test) expect_box(assembly.read(b, 5), b, 5);
  EXPECT_EQ(slices.decodes, 11);              // the test crops needed no slice of their own
  EXPECT_EQ(assembly.waiting_crops(), 0u);
  EXPECT_EQ(assembly.stats().peak_slices, 1u);  // a slice lives only while it is copied
  // While the first train crop is read (in flight, not waiting), the second
  // and the first test crop (slices 1..4) wait in memory: 2 x 8 x 8 x 4 bytes.
  EXPECT_EQ(assembly.stats().peak_waiting_bytes, 2u * 8 * 8 * 4);
}

// Crops starting at every z; the "train" ones (even z) are read first, in z
// order, so the odd ones complete while they wait for their split.
struct InterleavedCrops {
  std::vector<StackBox> train, test;
  InterleavedCrops() {
    for (int z = 0; z + 3 <= D; ++z) (z % 2 ? test : train).push_back({{z % 5, 2 * (z % 3), z}, {8, 8, 3}});
  }
  void read_all(CropAssembly& assembly) const {
    for (const auto& b : train) assembly.expect(b);
    for (const auto& b : test) assembly.expect(b);
    for (const auto& b : train) expect_box(assembly.read(b, 0), b, 0);
    for (const auto& b : test) expect_box(assembly.read(b, 3), b, 3);
  }
};
constexpr std::size_t kCropBytes = 8 * 8 * 3;

TEST(CropAssembly, CompleteCropsPastTheBudgetWaitOnDiskAndComeBackIntact) {
  CountingSlices slices;
  CropAssembly assembly(kShape, slices.decode(), kCropBytes);
  const InterleavedCrops crops;
  crops.read_all(assembly);  // expect_box checks every voxel, spilled or not
  const auto stats = assembly.stats();
  EXPECT_EQ(slices.decodes, D);
  EXPECT_EQ(assembly.waiting_crops(), 0u);
  EXPECT_GE(stats.spilled_crops, crops.test.size() - 2);
  // Waiting crops in memory never exceed the budget: the rest are assembled on disk.
  EXPECT_LE(stats.peak_waiting_bytes, kCropBytes);
  EXPECT_GT(stats.peak_waiting_bytes, 0u);
}

TEST(CropAssembly, UnderTheBudgetNothingIsSpilled) {
  CountingSlices slices;
  CropAssembly assembly(kShape, slices.decode());
  const InterleavedCrops crops;
  crops.read_all(assembly);
  EXPECT_EQ(assembly.stats().spilled_crops, 0u);
  EXPECT_GE(assembly.stats().peak_waiting_bytes, crops.test.size() * kCropBytes);
}

TEST(CropAssembly, IdenticalBoxesAndUnannouncedReadsBothWork) {
  CountingSlices slices;
  CropAssembly assembly(kShape, slices.decode());
  const StackBox box{{2, 2, 2}, {6, 6, 3}};
  assembly.expect(box);
  assembly.expect(box);  // two synapses at the same voxel
  expect_box(assembly.read(box, 0), box, 0);
  expect_box(assembly.read(box, 0), box, 0);
  EXPECT_EQ(slices.decodes, 3);
  const StackBox other{{0, 0, 1}, {4, 4, 3}};
  expect_box(assembly.read(other, 0), other, 0);  // never announced: decodes its own slices
  EXPECT_EQ(slices.decodes, 6);
  EXPECT_EQ(assembly.waiting_crops(), 0u);
  assembly.expect({{0, 0, 2}, {4, 4, 2}});  // announced after its slices were read: falls back
  EXPECT_EQ(assembly.waiting_crops(), 0u);
  expect_box(assembly.read({{0, 0, 2}, {4, 4, 2}}, 0), {{0, 0, 2}, {4, 4, 2}}, 0);
}

TEST(CropAssembly, ConcurrentReadersShareDecodesAndAFailedSliceFailsExactlyItsCrops) {
  CountingSlices slices;
  slices.fail_at = 5;
  CropAssembly assembly(kShape, slices.decode());
  std::vector<StackBox> boxes;
  for (int z = -2; z < D; ++z)
    for (int k = 0; k < 3; ++k) boxes.push_back({{3 * k, k, z}, {9, 7, 3}});
  for (const auto& b : boxes) assembly.expect(b);
  std::vector<int> failed(boxes.size(), 0);
  tbb::parallel_for(std::size_t{0}, boxes.size(), [&](std::size_t i) {
    try {
      expect_box(assembly.read(boxes[i], 0), boxes[i], 0);
    } catch (const InputError& e) {
      EXPECT_EQ(e.path(), "im0005.png");
      failed[i] = 1;
    }
  });
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const int z0 = boxes[i].start[2];
    EXPECT_EQ(failed[i], z0 <= 5 && 5 < z0 + 3) << "box at z " << z0;
  }
  EXPECT_EQ(slices.decodes, D);
  EXPECT_EQ(assembly.waiting_crops(), 0u);
  EXPECT_LE(assembly.stats().peak_slices, 2u * std::thread::hardware_concurrency() + 2);
}

TEST(SliceStack, FolderReadsDecodeEachSliceOnceUnderTbb) {
  const TempDir dir;
  write_slices(dir.path());
  auto stack = open_slice_stack(dir.path());
  std::vector<StackBox> boxes;
  for (int z = -2; z < D; ++z) boxes.push_back({{z, 1, z}, {6, 5, 4}});
  for (const auto& b : boxes) stack->expect(b);
  std::vector<Image> out(boxes.size());
  tbb::parallel_for(std::size_t{0}, boxes.size(), [&](std::size_t k) { out[k] = stack->read_box(boxes[k], 3); });
  for (std::size_t i = 0; i < boxes.size(); ++i) expect_box(out[i], boxes[i], 3);
  EXPECT_EQ(stack->stats().decodes, static_cast<std::size_t>(D));
}
