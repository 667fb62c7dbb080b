// Benchmark: the ChestMNIST converter on full-size 1024x1024 fixture images.
//
//   build/tools/bench_chest [N=400] [WORK_DIR=/tmp/mmb-bench-chest]
//
// Prints ms per image for decoding alone and for the full build at the four
// sizes (1 and 2 threads; 1 thread also without DEFLATE), and the peak RSS of
// builds over N/2 and N images.
// Figures, not assertions: the test suite never runs this.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/core/allocator.h"
#include "common/io/files.h"
#include "common/io/image_file.h"
#include "tools/bench/bench_util.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using RunStats = mmb::bench::CliRun;

RunStats run_build(const fs::path& source, const fs::path& out, int threads, const std::string& extra) {
  fs::remove_all(out);
  return mmb::bench::run_cli("build chestmnist --source " + source.string() + " --out " + out.string() + " --threads " +
                        std::to_string(threads) + " -q " + extra);
}

double decode_ms_per_image(const std::vector<fs::path>& pngs) {
  const auto start = Clock::now();
  std::size_t bytes = 0;
  for (const auto& p : pngs) bytes += mmb::read_image_file(p).byte_size();
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  if (bytes == 0) std::fprintf(stderr, "nothing decoded\n");
  return 1000.0 * s / pngs.size();
}

// Lists with the first half of the images, so a second build covers N/2.
fs::path write_half_lists(const std::vector<fs::path>& pngs, const fs::path& dir) {
  fs::create_directories(dir);
  std::ofstream train(dir / "train.txt");
  for (std::size_t i = 0; i < pngs.size() / 2; ++i) train << pngs[i].filename().string() << "\n";
  std::ofstream(dir / "val.txt").flush();
  std::ofstream(dir / "test.txt").flush();
  return dir;
}

}  // namespace

int main(int argc, char** argv) {
  mmb::keep_freed_memory_for_reuse();  // as the CLI does: no fresh pages per sample
  const int n = argc > 1 ? std::atoi(argv[1]) : 400;
  const fs::path work = argc > 2 ? argv[2] : "/tmp/mmb-bench-chest";
  const fs::path source = work / "source";
  const auto pngs = mmb::bench::chest_bench_pngs(source, n);
  if (pngs.empty()) return 1;
  std::printf("chestmnist benchmark: %zu images of 1024x1024, sizes 28/64/128/224\n", pngs.size());
  decode_ms_per_image(pngs);  // warm the page cache
  const double decode = decode_ms_per_image(pngs);
  std::printf("decode alone (1 thread):        %7.2f ms/image\n", decode);
  const auto t1 = run_build(source, work / "out1", 1, "");
  const auto t2 = run_build(source, work / "out2", 2, "");
  const double full1 = 1000.0 * t1.seconds / pngs.size(), full2 = 1000.0 * t2.seconds / pngs.size();
  std::printf("full build, 1 thread:           %7.2f ms/image  (%.2fx decode alone)\n", full1, full1 / decode);
  const double cpu1 = 1000.0 * t1.cpu_seconds / pngs.size();
  std::printf("  of which CPU (user+sys):      %7.2f ms/image  (%.2fx decode alone; the rest waits on I/O and fsync)\n",
              cpu1, cpu1 / decode);
  // DEFLATE (zlib level 1, chosen for reproducible bytes) is the largest
  // cost after decoding on these noisy images; STORED shows the rest.
  const auto stored = run_build(source, work / "out-stored", 1, "--no-compress");
  const double stored1 = 1000.0 * stored.cpu_seconds / pngs.size();
  std::printf("  --no-compress, CPU:           %7.2f ms/image  (%.2fx decode alone)\n", stored1, stored1 / decode);
  std::printf("full build, 2 threads:          %7.2f ms/image  (%.2fx faster than 1 thread)\n", full2, full1 / full2);
  const std::string half_lists = "--split lists:" + write_half_lists(pngs, work / "half").string();
  const auto half = run_build(source, work / "out-half", 2, half_lists);
  // Start-up (loading ITK, VTK, GDCM... and the CSV) is paid once per build,
  // not per image: the difference between N and N/2 images is the per-image cost.
  const auto half1 = run_build(source, work / "out-half1", 1, half_lists);
  const double marginal = 1000.0 * (t1.seconds - half1.seconds) / (pngs.size() - pngs.size() / 2);
  std::printf("full build, 1 thread, per extra image (N vs N/2): %5.2f ms/image  (%.2fx decode alone)\n", marginal,
              marginal / decode);
  std::printf("peak RSS, %4zu images:          %7.1f MiB\n", pngs.size() / 2, half.peak_rss_kb / 1024.0);
  std::printf("peak RSS, %4zu images:          %7.1f MiB\n", pngs.size(), t2.peak_rss_kb / 1024.0);
  return 0;
}
