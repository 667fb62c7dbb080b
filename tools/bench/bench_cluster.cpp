// Benchmark: where a ChestMNIST build (1024² PNGs, sizes 28/64/128/224) stops
// scaling, measured through the cluster commands.
//
//   build/tools/bench_cluster [N=400] [WORK_DIR=/tmp/mmb-bench-chest]
//
// The one-machine build at 1 and 2 threads (wall and CPU); then its stages on
// their own: `plan` is enumeration + split (serial), the shards are decode +
// resize (parallel), `merge` is the writer (read shards, DEFLATE in parallel
// chunks, CRC, write, sha256) at 1 and 2 threads, and `merge` of a
// --no-compress plan is the writer without DEFLATE: the part that stays serial.
// Figures, not assertions: the test suite never runs this.
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/io/files.h"
#include "tools/bench/bench_util.h"

namespace fs = std::filesystem;
using mmb::bench::CliRun;
using mmb::bench::run_cli;

namespace {

void print(const char* what, const CliRun& r, std::size_t n) {
  std::printf("%-44s wall %7.2f ms/image   CPU %7.2f ms/image\n", what, 1000 * r.seconds / n, 1000 * r.cpu_seconds / n);
}

// plan + shards + merge into out; returns {plan, shards (sum), merge 1 thread, merge 2 threads}.
struct Staged {
  CliRun plan, shards, merge1, merge2;
};

Staged staged(const fs::path& source, const fs::path& out, const std::string& extra, int shards) {
  Staged s;
  fs::remove_all(out);
  const std::string plan_file = (out / "chestmnist.plan.json").string();
  s.plan = run_cli("plan chestmnist --source " + source.string() + " --out " + out.string() + " " + extra);
  for (int i = 0; i < shards; ++i) {
    const auto r = run_cli("build --plan " + plan_file + " --shard " + std::to_string(i) + "/" + std::to_string(shards) +
                           " --threads 1 -q");
    s.shards.seconds += r.seconds;
    s.shards.cpu_seconds += r.cpu_seconds;
  }
  s.merge1 = run_cli("merge --plan " + plan_file + " --threads 1 -q --keep-shards");
  s.merge2 = run_cli("merge --plan " + plan_file + " --threads 2 -q --keep-shards");
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 400;
  const fs::path work = argc > 2 ? argv[2] : "/tmp/mmb-bench-chest";
  const fs::path source = work / "source";
  const auto pngs = mmb::bench::chest_bench_pngs(source, n);
  if (pngs.empty()) return 1;
  const std::size_t count = pngs.size();
  std::printf("chestmnist, %zu images of 1024x1024, sizes 28/64/128/224\n", count);
  for (int threads : {1, 2}) {
    fs::remove_all(work / "one");
    const auto r = run_cli("build chestmnist --source " + source.string() + " --out " + (work / "one").string() +
                           " -q --threads " + std::to_string(threads));
    print(("one-machine build, " + std::to_string(threads) + " thread(s)").c_str(), r, count);
  }
  const auto d = staged(source, work / "staged", "", 2);
  print("plan (enumerate + split; serial)", d.plan, count);
  print("2 shards, 1 thread each (decode + resize)", d.shards, count);
  print("merge, 1 thread (writer with DEFLATE)", d.merge1, count);
  print("merge, 2 threads (DEFLATE chunks in parallel)", d.merge2, count);
  const auto s = staged(source, work / "stored", "--no-compress", 2);
  print("merge of a --no-compress plan (serial writer)", s.merge1, count);
  const double serial = s.merge1.seconds + d.plan.seconds;
  const double total1 = d.plan.seconds + d.shards.seconds + d.merge1.seconds;
  std::printf("serial share (plan + writer without DEFLATE) of the 1-thread stages: %.1f%% -> at most %.0fx on many cores\n",
              100 * serial / total1, total1 / serial);
  return 0;
}
