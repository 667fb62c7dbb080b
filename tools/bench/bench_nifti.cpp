// Benchmark: reading one NIfTI volume to float (read_volume_file) against
// nibabel, in process, CPU time of the reading thread and minor page faults.
//
//   build/tools/bench_nifti FILE.nii[.gz] [REPEATS=7] [PEER=1]
//
// Prints each run and the medians; the nibabel peer (tools/bench/peers.py
// nifti) runs in alternation with ours, so both see the same machine load.
// Figures, not assertions: the test suite never runs this.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/core/allocator.h"
#include "common/io/volume_file.h"
#include "tools/bench/bench_util.h"

namespace {

double thread_cpu() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_nifti FILE.nii[.gz] [REPEATS]\n");
    return 2;
  }
  mmb::keep_freed_memory_for_reuse();
  const std::string file = argv[1];
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 7;
  const bool peer = argc > 3 ? std::atoi(argv[3]) != 0 : true;
  mmb::read_volume_file(file);  // warm the page cache
  const std::string peer_out = "/tmp/bench_nifti_peer.txt";
  std::vector<double> ours, faults, fdata, dataobj;
  for (int r = 0; r < repeats; ++r) {
    const long f0 = minor_faults();
    const double t0 = thread_cpu();
    {
      const auto v = mmb::read_volume_file(file);
      ours.push_back(thread_cpu() - t0);
      faults.push_back(double(minor_faults() - f0));
    }
    if (!peer) {
      std::printf("run %d: ours %.3f s (%.0f faults)\n", r, ours.back(), faults.back());
      continue;
    }
    mmb::bench::run_command("/usr/bin/python3 " MMB_SOURCE_DIR "/tools/bench/peers.py nifti '" + file + "'", peer_out);
    double a = 0, b = 0;
    std::ifstream(peer_out) >> a >> b;
    fdata.push_back(a), dataobj.push_back(b);
    std::printf("run %d: ours %.3f s (%.0f faults); nibabel get_fdata %.3f s, dataobj.astype %.3f s\n", r, ours.back(),
                faults.back(), a, b);
  }
  if (!peer) {
    std::printf("median of %d: ours %.3f s CPU, %.0f minor faults\n", repeats, median(ours), median(faults));
    return 0;
  }
  const double o = median(ours), a = median(fdata), b = median(dataobj);
  std::printf("median of %d: ours %.3f s CPU, %.0f minor faults; get_fdata %.3f s (ours %.2fx); "
              "dataobj.astype(float32) %.3f s (ours %.2fx)\n",
              repeats, o, median(faults), a, o / a, b, o / b);
  return 0;
}
