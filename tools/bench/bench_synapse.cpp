// Benchmark: SynapseMNIST3D on a large generated EM stack. The point is
// memory: a build must hold a few slabs of slices, never the volume.
//
//   build/tools/bench_synapse [SLICES=160] [SIDE=2048] [SYNAPSES=300] [WORK_DIR=/tmp/mmb-bench-synapse]
//
// Writes SLICES PNG slices of SIDE x SIDE (8-bit), the same volume as an HDF5
// dataset (chunks 1 x 256 x 256), volume.toml (8 x 8 x 30 nm: crops of
// 128 x 128 x 34) and SYNAPSES random synapses; then builds both with the CLI
// (2 threads) in a child process and prints the peak RSS against the volume
// size, the time, and (in process) how often each slice was decoded.
// Figures, not assertions: the test suite never runs this.
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/core/allocator.h"
#include "tools/bench/bench_fixtures.h"
#include "tools/bench/bench_util.h"
#include "common/io/slice_stack.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using namespace mmb::bench;

struct RunStats {
  double seconds = 0;
  long peak_rss_kb = 0;
};

RunStats run_measured(const std::string& args) {
  const auto run = mmb::bench::run_cli(args);
  return {run.seconds, run.peak_rss_kb};
}

// In process: the same crops read through SliceStack in the pipeline's order
// (three z sweeps, one per split), to count decodes and slices held.
void report_cache(const fs::path& dir, const std::vector<Synapse>& synapses, int slices) {
  auto stack = mmb::open_slice_stack(dir / "im");
  std::vector<std::pair<int, mmb::StackBox>> order;  // (split, box)
  for (std::size_t i = 0; i < synapses.size(); ++i) {
    const auto& s = synapses[i];
    const int split = i % 10 < 7 ? 0 : i % 10 < 8 ? 1 : 2;
    order.push_back({split, {{s.x - kCropXY / 2, s.y - kCropXY / 2, s.z - kCropZ / 2}, {kCropXY, kCropXY, kCropZ}}});
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second.start[2]) < std::tie(b.first, b.second.start[2]);
  });
  for (const auto& [split, box] : order) stack->expect(box);
  const auto start = Clock::now();
  for (const auto& [split, box] : order) stack->read_box(box, 0);
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  const auto st = stack->stats();
  std::printf("in process, 1 thread, 3 z-sweeps: %zu slice decodes for %d slices (%.2f per slice), at most %zu "
              "slice(s) and %.0f MiB of waiting crops held, %.1f s\n", st.decodes, slices, double(st.decodes) / slices,
              st.peak_slices, st.peak_waiting_bytes / 1048576.0, s);
}

}  // namespace

int main(int argc, char** argv) {
  mmb::keep_freed_memory_for_reuse();  // as the CLI does: no fresh pages per sample
  const int slices = argc > 1 ? std::atoi(argv[1]) : 160;
  const int side = argc > 2 ? std::atoi(argv[2]) : 2048;
  const int n = argc > 3 ? std::atoi(argv[3]) : 300;
  const fs::path work = argc > 4 ? argv[4] : "/tmp/mmb-bench-synapse";
  const fs::path png = work / "png", h5 = work / "h5";
  const std::string tag = std::to_string(slices) + "x" + std::to_string(side);
  if (!fs::exists(work / (tag + ".done"))) {
    fs::remove_all(work);
    std::printf("writing %d slices of %dx%d (PNG and HDF5)...\n", slices, side, side);
    write_volume(png, slices, side);
    fs::create_directories(h5);
    fs::rename(png / "volume.h5", h5 / "volume.h5");
    std::ofstream(work / (tag + ".done")).flush();
  }
  const auto synapses = write_synapses(png, n, slices, side);
  fs::copy_file(png / "synapses.csv", h5 / "synapses.csv", fs::copy_options::overwrite_existing);
  write_metadata(png, false);
  write_metadata(h5, true);

  const double volume_mib = double(slices) * side * side / (1 << 20), slice_mib = double(side) * side / (1 << 20);
  std::printf("synapsemnist3d benchmark: %d synapses in a %dx%dx%d volume (%.0f MiB), crops 128x128x34, sizes 28/64\n",
              n, side, side, slices, volume_mib);
  std::printf("one slice: %.1f MiB; one crop's slab of %d slices: %.0f MiB\n", slice_mib, kCropZ, kCropZ * slice_mib);
  const auto baseline = run_measured("check synapsemnist3d --source " + png.string());
  std::printf("%-34s %7.1f MiB peak RSS, %6.1f s\n", "check (opens the stack, 1 slice):", baseline.peak_rss_kb / 1024.0,
              baseline.seconds);
  for (const auto& [name, dir] : {std::pair{"PNG slices", png}, std::pair{"HDF5 hyperslabs", h5}}) {
    fs::remove_all(work / "out");
    const auto r = run_measured("build synapsemnist3d --source " + dir.string() + " --out " + (work / "out").string() +
                           " --threads 2 -q");
    std::printf("build from %-23s %7.1f MiB peak RSS (%.0f%% of the volume, %.1f slabs), %6.1f s, %.1f ms/synapse\n",
                (std::string(name) + ":").c_str(), r.peak_rss_kb / 1024.0, 100.0 * r.peak_rss_kb / 1024.0 / volume_mib,
                r.peak_rss_kb / 1024.0 / (kCropZ * slice_mib), r.seconds, 1000.0 * r.seconds / n);
  }
  report_cache(png, synapses, slices);
  return 0;
}
