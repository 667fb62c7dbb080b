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

#include "tools/bench/bench_util.h"
#include "common/io/slice_stack.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kCropXY = 128, kCropZ = 34;  // 1024 nm at 8 x 8 x 30 nm

struct RunStats {
  double seconds = 0;
  long peak_rss_kb = 0;
};

RunStats run_cli(const std::string& args) {
  const auto run = mmb::bench::run_cli(args);
  return {run.seconds, run.peak_rss_kb};
}

// An EM-like slice: a smooth gradient, a per-slice offset and a noise tile.
cv::Mat slice_pixels(int side, int z, const cv::Mat& noise) {
  cv::Mat slice(side, side, CV_8UC1);
  for (int y = 0; y < side; ++y) {
    auto* row = slice.ptr<std::uint8_t>(y);
    const auto* n = noise.ptr<std::uint8_t>((y + 7 * z) % noise.rows);
    for (int x = 0; x < side; ++x) row[x] = static_cast<std::uint8_t>(100 + (x + y) * 40 / (2 * side) + (z % 8) + n[(x + 13 * z) % noise.cols] % 24);
  }
  return slice;
}

void write_volume(const fs::path& dir, int slices, int side) {
  fs::create_directories(dir / "im");
  cv::Mat noise(97, 101, CV_8UC1);
  cv::randu(noise, 0, 255);
  const hid_t file = H5Fcreate((dir / "volume.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[3] = {hsize_t(slices), hsize_t(side), hsize_t(side)}, chunk[3] = {1, 256, 256};
  const hid_t space = H5Screate_simple(3, dims, nullptr), create = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(create, 3, chunk);
  const hid_t ds = H5Dcreate2(file, "main", H5T_STD_U8LE, space, H5P_DEFAULT, create, H5P_DEFAULT);
  for (int z = 0; z < slices; ++z) {
    const cv::Mat s = slice_pixels(side, z, noise);
    char name[32];
    std::snprintf(name, sizeof name, "im%04d.png", z);
    cv::imwrite((dir / "im" / name).string(), s, {cv::IMWRITE_PNG_COMPRESSION, 1});
    const hsize_t start[3] = {hsize_t(z), 0, 0}, count[3] = {1, hsize_t(side), hsize_t(side)};
    const hid_t file_space = H5Dget_space(ds), memory = H5Screate_simple(3, count, nullptr);
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    H5Dwrite(ds, H5T_NATIVE_UINT8, memory, file_space, H5P_DEFAULT, s.data);
    H5Sclose(memory);
    H5Sclose(file_space);
  }
  H5Dclose(ds);
  H5Pclose(create);
  H5Sclose(space);
  H5Fclose(file);
}

struct Synapse {
  int x, y, z;
};

std::vector<Synapse> write_synapses(const fs::path& dir, int n, int slices, int side) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> xy(0, side - 1), z(0, slices - 1);
  std::vector<Synapse> out;
  std::ofstream csv(dir / "synapses.csv");
  csv << "id,x,y,z,label\n";
  for (int i = 0; i < n; ++i) {
    out.push_back({xy(rng), xy(rng), z(rng)});
    csv << "s" << i << "," << out.back().x << "," << out.back().y << "," << out.back().z << ","
        << (i % 3 ? "excitatory" : "inhibitory") << "\n";
  }
  return out;
}

void write_metadata(const fs::path& dir, bool hdf5) {
  std::ofstream toml(dir / "volume.toml");
  toml << "voxel_size_nm = [8, 8, 30]\n" << (hdf5 ? "hdf5 = \"volume.h5\"\ndataset = \"main\"\n" : "slices = \"im\"\n");
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
  const auto baseline = run_cli("check synapsemnist3d --source " + png.string());
  std::printf("%-34s %7.1f MiB peak RSS, %6.1f s\n", "check (opens the stack, 1 slice):", baseline.peak_rss_kb / 1024.0,
              baseline.seconds);
  for (const auto& [name, dir] : {std::pair{"PNG slices", png}, std::pair{"HDF5 hyperslabs", h5}}) {
    fs::remove_all(work / "out");
    const auto r = run_cli("build synapsemnist3d --source " + dir.string() + " --out " + (work / "out").string() +
                           " --threads 2 -q");
    std::printf("build from %-23s %7.1f MiB peak RSS (%.0f%% of the volume, %.1f slabs), %6.1f s, %.1f ms/synapse\n",
                (std::string(name) + ":").c_str(), r.peak_rss_kb / 1024.0, 100.0 * r.peak_rss_kb / 1024.0 / volume_mib,
                r.peak_rss_kb / 1024.0 / (kCropZ * slice_mib), r.seconds, 1000.0 * r.seconds / n);
  }
  report_cache(png, synapses, slices);
  return 0;
}
