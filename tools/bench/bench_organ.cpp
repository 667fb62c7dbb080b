// Benchmark: the LiTS organ converter (Organ{A,C,S}MNIST + OrganMNIST3D) on one full-size
// 512 x 512 x 400 int16 CT volume with Xu et al.'s 11 organ boxes at LiTS-like sizes.
//
//   build/tools/bench_organ [REPEATS=3] [WORK_DIR=/tmp/mmb-bench-organ]
//
// Prints, per volume: the time to read it (read_unit: NIfTI -> float HU), the time to cut,
// window and resize every sample of the four datasets at all their sizes (render), both on
// one thread, and the end-to-end CLI build of the four datasets over two such volumes with 1 and
// 2 threads (time per volume and peak RSS).
// Figures, not assertions: the test suite never runs this.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/core/allocator.h"
#include "tools/bench/bench_fixtures.h"
#include "tools/bench/bench_util.h"
#include "common/manifest/manifest.h"
#include "common/pipeline/converter.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using namespace mmb::bench;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct RunStats {
  double seconds = 0;
  long peak_rss_mb = 0;
};

// The CLI as a child process, so its peak RSS is its own (reported in MiB).
RunStats cli_build(const fs::path& source, const fs::path& out, int threads) {
  fs::remove_all(out);
  const auto run = mmb::bench::run_cli("build organamnist organcmnist organsmnist organmnist3d --source '" + source.string() +
                                  "' --out '" + out.string() + "' -q --threads " + std::to_string(threads));
  return {run.seconds, run.peak_rss_kb / 1024};
}

}  // namespace

int main(int argc, char** argv) {
  mmb::keep_freed_memory_for_reuse();  // as the CLI does: no fresh pages per sample
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const fs::path work = argc > 2 ? argv[2] : "/tmp/mmb-bench-organ";
  const fs::path source = work / "source";
  if (!fs::exists(source / "Training Batch 1" / "volume-0.nii")) write_lits_fixture(source);

  const mmb::Converter& c = *mmb::find_converter("organmnist3d");
  std::vector<mmb::Manifest> manifests;
  std::vector<const mmb::Manifest*> requested;
  for (const auto& flag : c.flags()) manifests.push_back(mmb::load_manifest_for(flag));
  for (const auto& m : manifests) requested.push_back(&m);
  const mmb::Enumeration e = c.enumerate_all(source, requested);
  std::size_t per_dataset[4] = {}, outputs = 0;
  for (const auto& s : e.samples) ++per_dataset[s.dataset], outputs += manifests[s.dataset].sizes.size();

  std::vector<double> read_s, render_s, render_3d_s;
  std::size_t blank = 0;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    const auto unit = c.read_unit(e.samples.front(), manifests.front());
    read_s.push_back(seconds_since(start));
    double in_3d = 0;
    start = Clock::now();
    blank = 0;
    for (const auto& s : e.samples) {
      const auto t = Clock::now();
      try {
        c.render(s, manifests[s.dataset], manifests[s.dataset].sizes, unit.get());
      } catch (const mmb::InputError&) {  // a blank crop (lung in air): cut and tested, then refused
        ++blank;
      }
      if (s.dataset == 3) in_3d += seconds_since(t);
    }
    render_s.push_back(seconds_since(start));
    render_3d_s.push_back(in_3d);
  }
  std::printf("volume 512x512x400 int16 (.nii, %.0f MB, warm page cache), 11 boxes\n",
              fs::file_size(source / "Training Batch 1" / "volume-0.nii") / 1e6);
  std::printf("samples: axial %zu, coronal %zu, sagittal %zu, 3D %zu (%zu images over all sizes)\n", per_dataset[0],
              per_dataset[1], per_dataset[2], per_dataset[3], outputs);
  std::printf("blank crops refused: %zu\n", blank);
  std::printf("read_unit (read + int16 -> float HU), 1 thread: median %.3f s over %d\n", median(read_s), repeats);
  std::printf("render all samples (crop + window + resize), 1 thread: median %.3f s (3D boxes: %.3f s, 2D slices: %.3f s)\n",
              median(render_s), median(render_3d_s), median(render_s) - median(render_3d_s));
  // Two volumes (a hard link and a copied box file), so two threads have two units to share.
  const fs::path two = work / "two-volumes";
  if (!fs::exists(two / "volume-1.nii")) {
    fs::create_directories(two);
    fs::create_hard_link(source / "Training Batch 1" / "volume-0.nii", two / "volume-0.nii");
    fs::create_hard_link(source / "Training Batch 1" / "volume-0.nii", two / "volume-1.nii");
    fs::copy_file(source / "segmentation-0.txt", two / "segmentation-0.txt");
    fs::copy_file(source / "segmentation-0.txt", two / "segmentation-1.txt");
  }
  for (int threads : {1, 2}) {
    const RunStats run = cli_build(two, work / "out", threads);
    std::printf("CLI build of the four datasets, all sizes, 2 volumes, --threads %d: %.3f s per volume, peak RSS %ld MB\n",
                threads, run.seconds / 2, run.peak_rss_mb);
  }
  return 0;
}
