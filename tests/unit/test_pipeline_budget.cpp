// The memory budget for units in flight (common/pipeline/unit_budget.h): units
// are limited by their measured size at any thread count, the first unit is
// read alone, and units that hold no volume are not limited.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "common/core/allocator.h"
#include "common/io/volume_file.h"
#include "common/npz/npz_reader.h"
#include "common/pipeline/build.h"
#include "common/pipeline/sidecar.h"
#include "common/pipeline/unit_budget.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

// Runs `threads` workers, each taking `units` leases of `bytes` and holding them a moment.
std::size_t peak_units(UnitBudget& budget, int threads, int units, std::size_t bytes) {
  std::atomic<int> in_flight{0}, peak{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (int u = 0; u < units; ++u) {
        auto lease = budget.acquire();
        const int now = ++in_flight;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        budget.measured(lease, bytes);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        --in_flight;
      }
    });
  for (auto& w : workers) w.join();
  EXPECT_EQ(static_cast<std::size_t>(peak.load()), budget.peak_units_in_flight());
  return budget.peak_units_in_flight();
}

}  // namespace

TEST(UnitBudget, UnitsInFlightFitTheBudgetAtAnyThreadCount) {
  UnitBudget budget(3 * 800);
  EXPECT_EQ(peak_units(budget, 16, 6, 800), 3u);
}

TEST(UnitBudget, AUnitLargerThanTheBudgetStillRunsAlone) {
  UnitBudget budget(100);
  EXPECT_EQ(peak_units(budget, 8, 4, 5000), 1u);
}

TEST(UnitBudget, UnitsWithoutVolumesAreNotLimited) {
  UnitBudget budget(100);
  EXPECT_GT(peak_units(budget, 8, 20, 0), 1u);
}

TEST(UnitBudget, TheDefaultIsHalfThePhysicalMemory) {
  const std::size_t bytes = default_unit_memory_bytes();
  EXPECT_GT(bytes, std::size_t{64} << 20);
  EXPECT_EQ(bytes, static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE) / 2);
}

// ---- Through the pipeline: a converter whose units are real NIfTI volumes ----

namespace {

// A 128^3 int16 NIfTI-1 file: 4 MiB on disk, 8 MiB as floats in memory.
fs::path write_volume(const fs::path& file) {
  std::vector<char> h(352, 0);
  const auto put16 = [&](std::size_t at, std::int16_t v) { std::memcpy(h.data() + at, &v, 2); };
  const auto put32 = [&](std::size_t at, auto v) { std::memcpy(h.data() + at, &v, 4); };
  put32(0, std::int32_t{348});
  const std::int16_t dim[8] = {3, 128, 128, 128, 1, 1, 1, 1};
  for (int d = 0; d < 8; ++d) put16(40 + 2 * d, dim[d]);
  put16(70, 4);
  put16(72, 16);
  for (int d = 0; d < 8; ++d) put32(76 + 4 * d, 1.0f);
  put32(108, 352.0f);
  std::memcpy(h.data() + 344, "n+1\0", 4);
  std::vector<std::int16_t> voxels(128 * 128 * 128);
  for (std::size_t i = 0; i < voxels.size(); ++i) voxels[i] = static_cast<std::int16_t>(i % 2000 - 1000);
  std::ofstream out(file, std::ios::binary);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  out.write(reinterpret_cast<const char*>(voxels.data()), static_cast<std::streamsize>(voxels.size() * 2));
  return file;
}

struct VolumeUnit : UnitData {
  explicit VolumeUnit(std::atomic<int>& alive) : alive(alive) { ++alive; }
  ~VolumeUnit() override { --alive; }
  std::atomic<int>& alive;
  Volume volume;
};

// 12 units of 2 samples each; read_unit reads the same real volume.
class VolumeConverter : public Converter {
 public:
  explicit VolumeConverter(fs::path volume) : volume_(std::move(volume)) {}
  mutable std::atomic<int> alive{0}, peak{0};
  std::string flag() const override { return "toymnist"; }
  std::string source_summary() const override { return "volumes"; }
  bool identify(const fs::path&) const override { return true; }
  Enumeration enumerate(const fs::path&, const Manifest&) const override {
    Enumeration e;
    for (int i = 0; i < 24; ++i) {
      Sample s;
      s.id = s.path = "s" + std::to_string(i);
      s.subject = "p" + std::to_string(i);
      s.unit = "u" + std::to_string(i / 2);
      s.label = {static_cast<std::uint8_t>(i % 2)};
      e.samples.push_back(s);
    }
    e.split_rule = "toy";
    return e;
  }
  std::unique_ptr<UnitData> read_unit(const Sample&, const Manifest&) const override {
    auto unit = std::make_unique<VolumeUnit>(alive);
    unit->volume = read_volume_file(volume_);
    int now = alive.load(), seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return unit;
  }
  Image load(const Sample&, const Manifest&) const override { return {}; }
  std::vector<Image> render(const Sample& s, const Manifest&, const std::vector<int>& sizes,
                            const UnitData* unit) const override {
    const auto& v = static_cast<const VolumeUnit*>(unit)->volume;
    std::vector<Image> out;
    for (int size : sizes) {
      Image img(size, size, 1, 1);
      img.pixels[0] = static_cast<std::uint8_t>(v.voxels.size() % 251 + s.label[0]);
      out.push_back(img);
    }
    return out;
  }

 private:
  fs::path volume_;
};

Manifest toy_manifest(const fs::path& dir) {
  std::ofstream(dir / "toymnist.toml") << R"(
[dataset]
flag = "toymnist"
python_class = "ToyMNIST"
task = "binary-class"
license = "CC BY 4.0"
dim = 2
n_channels = 1
sizes = [28]
labels = ["a", "b"]
n_samples = { train = 16, val = 4, test = 4 }
[split]
seed = 5
)";
  return load_manifest(dir / "toymnist.toml");
}

}  // namespace

TEST(UnitBudget, ABuildHoldsNoMoreVolumesThanTheBudgetAllows) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-budget-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path volume = write_volume(dir / "volume.nii");
  const Manifest m = toy_manifest(dir);
  std::string first_npz;
  // Each unit holds 128^3 floats = 8 MiB: 17 MiB leaves room for 2 of them, 8 MiB for 1.
  for (const auto& [budget_mb, allowed] : {std::pair<std::size_t, int>{17, 2}, {8, 1}}) {
    VolumeConverter c(volume);
    BuildOptions o;
    o.source = "toy";
    o.out_dir = dir / ("out" + std::to_string(budget_mb));
    o.threads = 4;
    o.progress = false;
    o.unit_memory_mb = budget_mb;
    build_dataset(c, m, o);
    EXPECT_LE(c.peak.load(), allowed) << budget_mb << " MiB";
    EXPECT_GE(c.peak.load(), 1);
    EXPECT_EQ(c.alive.load(), 0);
    const std::string sha = sha256_file(o.out_dir / "toymnist.npz");
    if (first_npz.empty()) first_npz = sha;
    EXPECT_EQ(sha, first_npz) << "the budget changed the output";
  }
  fs::remove_all(dir);
}
