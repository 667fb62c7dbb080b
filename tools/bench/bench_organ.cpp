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

#include "tools/bench/bench_util.h"
#include "common/manifest/manifest.h"
#include "common/pipeline/converter.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kNx = 512, kNy = 512, kNz = 400;

struct Organ {
  const char* name;
  int id, x1, x2, y1, y2, z1, z2, hu;
};

// LiTS-like extents (voxels) for a 512 x 512 x 400 abdomen-to-chest scan.
const std::vector<Organ> kOrgans = {
    {"liver", 1, 70, 378, 143, 369, 245, 345, 60},     {"kidney-r", 2, 120, 200, 250, 340, 200, 270, 150},
    {"kidney-l", 3, 310, 390, 250, 340, 200, 270, 150}, {"femur-r", 4, 110, 190, 200, 290, 20, 80, 700},
    {"femur-l", 5, 320, 400, 200, 290, 20, 80, 700},    {"bladder", 6, 210, 300, 180, 270, 60, 110, 10},
    {"heart", 7, 180, 330, 130, 260, 330, 390, 40},     {"lung-r", 8, 60, 240, 100, 330, 300, 399, -800},
    {"lung-l", 9, 270, 450, 100, 330, 300, 399, -800},  {"spleen", 10, 340, 430, 240, 360, 260, 330, 50},
    {"pancreas", 11, 180, 330, 220, 300, 240, 280, 30},
};

template <typename T>
void put(std::vector<char>& h, std::size_t offset, T value) {
  std::memcpy(h.data() + offset, &value, sizeof(T));
}

// A minimal NIfTI-1 single file (.nii): int16, 0.7 x 0.7 x 1.5 mm, sform = scaling.
void write_nifti(const fs::path& file, const std::vector<std::int16_t>& voxels) {
  std::vector<char> h(352, 0);
  put<std::int32_t>(h, 0, 348);
  const std::int16_t dim[8] = {3, kNx, kNy, kNz, 1, 1, 1, 1};
  std::memcpy(h.data() + 40, dim, sizeof dim);
  put<std::int16_t>(h, 70, 4);   // datatype: int16
  put<std::int16_t>(h, 72, 16);  // bitpix
  const float pixdim[8] = {1, 0.7f, 0.7f, 1.5f, 1, 1, 1, 1};
  std::memcpy(h.data() + 76, pixdim, sizeof pixdim);
  put<float>(h, 108, 352.0f);  // vox_offset
  put<float>(h, 112, 1.0f);    // scl_slope
  put<std::int16_t>(h, 254, 1);  // sform_code
  const float srow[12] = {-0.7f, 0, 0, 179, 0, -0.7f, 0, 179, 0, 0, 1.5f, -600};
  std::memcpy(h.data() + 280, srow, sizeof srow);
  std::memcpy(h.data() + 344, "n+1\0", 4);
  std::ofstream out(file, std::ios::binary);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  out.write(reinterpret_cast<const char*>(voxels.data()), static_cast<std::streamsize>(voxels.size() * 2));
}

// Air around a body ellipse of fat, each organ an ellipsoid in its box, noise sigma 10 HU.
void write_fixture(const fs::path& source) {
  fs::create_directories(source / "Training Batch 1");
  std::vector<std::int16_t> hu(static_cast<std::size_t>(kNx) * kNy * kNz);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 10.0f);
  for (int k = 0; k < kNz; ++k)
    for (int j = 0; j < kNy; ++j)
      for (int i = 0; i < kNx; ++i) {
        const double dx = (i - 255.5) / 240.0, dy = (j - 255.5) / 200.0;
        float v = dx * dx + dy * dy <= 1.0 ? -100.0f : -1000.0f;
        for (const auto& o : kOrgans) {
          if (i < o.x1 || i > o.x2 || j < o.y1 || j > o.y2 || k < o.z1 || k > o.z2) continue;
          const double u = (2.0 * i - o.x1 - o.x2) / (o.x2 - o.x1 + 1), w = (2.0 * j - o.y1 - o.y2) / (o.y2 - o.y1 + 1),
                       z = (2.0 * k - o.z1 - o.z2) / (o.z2 - o.z1 + 1);
          if (u * u + w * w + z * z <= 1.0) v = static_cast<float>(o.hu);
        }
        hu[(static_cast<std::size_t>(k) * kNy + j) * kNx + i] = static_cast<std::int16_t>(std::lround(v + noise(rng)));
      }
  write_nifti(source / "Training Batch 1" / "volume-0.nii", hu);
  std::ofstream boxes(source / "segmentation-0.txt", std::ios::binary);
  for (const auto& o : kOrgans)
    boxes << o.name << " " << o.id << " " << o.x1 << " " << o.x2 << " " << o.y1 << " " << o.y2 << " " << o.z1 << " "
          << o.z2 << "\r\n";
}

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
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const fs::path work = argc > 2 ? argv[2] : "/tmp/mmb-bench-organ";
  const fs::path source = work / "source";
  if (!fs::exists(source / "Training Batch 1" / "volume-0.nii")) write_fixture(source);

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
