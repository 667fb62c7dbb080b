// Benchmark: every benchmarked dataset against the Python peer a user would
// write (tools/bench/peers.py: Debian's Pillow, numpy, scipy, nibabel,
// pydicom, np.savez_compressed), side by side in one run.
//
//   build/tools/bench_peers [REPEATS=3] [WORK_DIR=/tmp/mmb-bench-peers] [DATASETS=chest,path,derma,organ,nodule,synapse]
//
// Every figure is CPU time (user + system of the child process, or the
// thread's CPU clock in process), the median of REPEATS runs (the Python 3D
// peers, which take minutes, run once): the machine is
// shared, so wall time says little. Per sample means the marginal cost of
// 4N against N samples, so start-up (loading ITK, VTK, Python's imports) is
// not counted. For each build, at N and 4N: minor page faults per sample (the
// fresh pages the process touched) and peak RSS.
// Figures, not assertions: the test suite never runs this.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "common/core/allocator.h"
#include "common/io/dicom_series.h"
#include "common/io/files.h"
#include "common/io/image_file.h"
#include "common/io/volume_file.h"
#include "tools/bench/bench_fixtures.h"
#include "tools/bench/bench_util.h"

namespace fs = std::filesystem;
using mmb::bench::CliRun;

namespace {

int g_repeats = 3;
const std::string kPython = "/usr/bin/python3 " MMB_SOURCE_DIR "/tools/bench/peers.py";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double thread_cpu() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

// The run with the median CPU time of `repeats` runs (default g_repeats).
CliRun median_run(const std::function<CliRun()>& run, int repeats = 0) {
  std::vector<CliRun> runs;
  for (int r = 0; r < (repeats > 0 ? repeats : g_repeats); ++r) runs.push_back(run());
  std::sort(runs.begin(), runs.end(), [](const CliRun& a, const CliRun& b) { return a.cpu_seconds < b.cpu_seconds; });
  return runs[runs.size() / 2];
}

double median_of(const std::function<double()>& f) {
  std::vector<double> v;
  for (int r = 0; r < g_repeats; ++r) v.push_back(f());
  return median(v);
}

void shell(const std::string& cmd) {
  std::printf("  (%s)\n", cmd.c_str());
  std::fflush(stdout);
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "failed: %s\n", cmd.c_str());
    std::exit(1);
  }
}

std::string quoted_list(const std::vector<fs::path>& files) {
  std::string s;
  for (const auto& f : files) s += " '" + f.string() + "'";
  return s;
}

std::vector<fs::path> images_in(const fs::path& dir, std::initializer_list<const char*> exts) {
  std::vector<std::string> e(exts.begin(), exts.end());
  auto files = mmb::find_files_with_extension(dir, e);
  std::sort(files.begin(), files.end());
  return files;
}

struct Side {
  CliRun n, n4;  // at N and 4N samples
  std::size_t count_n = 0, count_n4 = 0;
  double per_sample_ms() const { return 1000.0 * (n4.cpu_seconds - n.cpu_seconds) / double(count_n4 - count_n); }
  double faults_per_sample(const CliRun& r, std::size_t count) const { return double(r.minor_faults) / double(count); }
  double marginal_faults() const { return double(n4.minor_faults - n.minor_faults) / double(count_n4 - count_n); }
};

void print_side(const char* who, const Side& s) {
  std::printf("  %-6s %8.2f ms CPU/sample | faults/sample %7.0f at N=%zu, %7.0f at 4N=%zu, marginal %6.0f | "
              "peak RSS %7.1f MiB at N, %7.1f MiB at 4N (%+.0f%%)\n",
              who, s.per_sample_ms(), s.faults_per_sample(s.n, s.count_n), s.faults_per_sample(s.n4, s.count_n4),
              s.count_n, s.count_n4, s.marginal_faults(), s.n.peak_rss_kb / 1024.0, s.n4.peak_rss_kb / 1024.0,
              100.0 * (double(s.n4.peak_rss_kb) / double(s.n.peak_rss_kb) - 1));
}

CliRun build(const std::string& flags, const fs::path& source, const fs::path& out, int threads,
             const std::string& extra = "") {
  fs::remove_all(out);
  fs::create_directories(out);
  return mmb::bench::run_cli("build " + flags + " --source '" + source.string() + "' --out '" + out.string() +
                             "' -q --threads " + std::to_string(threads) + " " + extra);
}

// ---- 2D: Chest (1024x1024 PNG), Path (224x224 TIFF), Derma (600x450 JPEG) ----

struct Dataset2D {
  std::string flag, mode, ext;
  std::function<void(const fs::path&, int)> make;  // (dir, scale): a tree of about scale * base images
};

void bench_2d(const Dataset2D& d, const fs::path& work) {
  std::printf("\n%s\n", d.flag.c_str());
  fs::path trees[2] = {work / d.flag / "n", work / d.flag / "n4"};
  for (int i = 0; i < 2; ++i)
    if (!fs::exists(trees[i] / ".done")) {
      fs::remove_all(trees[i]);
      d.make(trees[i], i == 0 ? 1 : 4);
      std::ofstream(trees[i] / ".done").flush();
    }
  std::vector<fs::path> files[2] = {images_in(trees[0], {d.ext.c_str()}), images_in(trees[1], {d.ext.c_str()})};
  // The decode floor: read_image_file alone, in process, thread CPU.
  for (const auto& f : files[1]) mmb::read_image_file(f);  // warm the page cache
  const double decode_ms = median_of([&] {
    const double start = thread_cpu();
    for (const auto& f : files[1]) mmb::read_image_file(f);
    return 1000.0 * (thread_cpu() - start) / double(files[1].size());
  });
  Side ours, peer, ours2, stored;
  for (int i = 0; i < 2; ++i) {
    const fs::path out = work / d.flag / "out";
    CliRun& o = i ? ours.n4 : ours.n;
    o = median_run([&] { return build(d.flag, trees[i], out, 1); });
    CliRun& p = i ? peer.n4 : peer.n;
    p = median_run([&] {
      fs::remove_all(out);
      fs::create_directories(out);
      return mmb::bench::run_command(kPython + " images '" + out.string() + "' " + d.mode + " 28,64,128,224" +
                                     quoted_list(files[i]));
    });
    CliRun& o2 = i ? ours2.n4 : ours2.n;
    o2 = median_run([&] { return build(d.flag, trees[i], out, 2); });
    CliRun& st = i ? stored.n4 : stored.n;
    st = median_run([&] { return build(d.flag, trees[i], out, 1, "--no-compress"); });
  }
  ours.count_n = peer.count_n = ours2.count_n = stored.count_n = files[0].size();
  ours.count_n4 = peer.count_n4 = ours2.count_n4 = stored.count_n4 = files[1].size();
  std::printf("  decode alone: %.2f ms CPU/image\n", decode_ms);
  print_side("ours", ours);
  print_side("python", peer);
  std::printf("  ours without DEFLATE (--no-compress): %.2f ms CPU/sample (%.2fx decode), so DEFLATE (zlib level 1, "
              "parallel chunk tasks) costs %.2f ms/sample\n",
              stored.per_sample_ms(), stored.per_sample_ms() / decode_ms, ours.per_sample_ms() - stored.per_sample_ms());
  std::printf("  ours/decode %.2fx; python/ours %.2fx per core; 2 threads: %.2fx CPU of 1 thread, wall 1t/2t %.2fx "
              "(at 4N; wall time on a shared machine)\n",
              ours.per_sample_ms() / decode_ms, peer.per_sample_ms() / ours.per_sample_ms(),
              ours2.per_sample_ms() / ours.per_sample_ms(), ours.n4.seconds / ours2.n4.seconds);
}

// ---- Organ: one LiTS-size volume ----

void bench_organ(const fs::path& work) {
  std::printf("\norganmnist3d (512x512x400 int16 NIfTI, 11 boxes)\n");
  const fs::path source = work / "organ" / "n";
  const fs::path nii = source / "Training Batch 1" / "volume-0.nii";
  if (!fs::exists(nii)) mmb::bench::write_lits_fixture(source);
  // Hard links of the one volume, each with the same boxes.
  const auto linked = [&](const std::string& name, int volumes) {
    const fs::path dir = work / "organ" / name;
    if (!fs::exists(dir / ("volume-" + std::to_string(volumes - 1) + ".nii"))) {
      fs::create_directories(dir);
      for (int v = 0; v < volumes; ++v) {
        fs::create_hard_link(nii, dir / ("volume-" + std::to_string(v) + ".nii"));
        fs::copy_file(source / "segmentation-0.txt", dir / ("segmentation-" + std::to_string(v) + ".txt"));
      }
    }
    return dir;
  };
  const fs::path two = linked("n2", 2), eight = linked("n8", 8);
  mmb::read_volume_file(nii);  // warm the page cache
  const double ours_read = median_of([&] {
    const double start = thread_cpu();
    const auto v = mmb::read_volume_file(nii);
    return thread_cpu() - start;
  });
  const std::string out_file = (work / "organ" / "peer.txt").string();
  std::vector<double> fdata, dataobj;
  for (int r = 0; r < g_repeats; ++r) {
    mmb::bench::run_command(kPython + " nifti '" + nii.string() + "'", out_file);
    double a = 0, b = 0;
    std::ifstream(out_file) >> a >> b;
    fdata.push_back(a), dataobj.push_back(b);
  }
  const double peer_fdata = median(fdata), peer_dataobj = median(dataobj);
  std::printf("  volume read to float32: ours %.3f s CPU; nibabel get_fdata %.3f s (ours %.2fx), "
              "dataobj.astype(float32) %.3f s (ours %.2fx)\n",
              ours_read, peer_fdata, ours_read / peer_fdata, peer_dataobj, ours_read / peer_dataobj);
  // Two threads: N = 2 volumes (one per thread), 4N = 8.
  Side ours, peer;
  ours.count_n = peer.count_n = 2;
  ours.count_n4 = peer.count_n4 = 8;
  const fs::path out = work / "organ" / "out";
  ours.n = median_run([&] { return build("organmnist3d", two, out, 2); });
  ours.n4 = median_run([&] { return build("organmnist3d", eight, out, 2); });
  const auto peer_run = [&](const fs::path& tree, int volumes) {
    return median_run([&] {
      fs::remove_all(out);
      fs::create_directories(out);
      std::string script;
      for (int v = 0; v < volumes; ++v)
        script += kPython + " volume3d '" + (tree / ("volume-" + std::to_string(v) + ".nii")).string() + "' '" +
                  (source / "segmentation-0.txt").string() + "' '" + out.string() + "'; ";
      return mmb::bench::run_command("sh -c \"" + script + "\"");
    }, 1);  // minutes per run: once
  };
  peer.n = peer_run(two, 2);
  peer.n4 = peer_run(eight, 8);
  std::printf("  per volume (3D boxes, sizes 28 and 64; ours with 2 threads, python one process per volume):\n");
  print_side("ours", ours);
  print_side("python", peer);
  const auto budget = build("organmnist3d", eight, out, 2, "--unit-memory 600");
  std::printf("  ours, 8 volumes, 2 threads, --unit-memory 600 (room for one 420 MB volume): peak RSS %.1f MiB\n",
              budget.peak_rss_kb / 1024.0);
}

// ---- Nodule: a LIDC-size series ----

void bench_nodule(const fs::path& work) {
  std::printf("\nnodulemnist3d (LIDC-shaped series of 512x512 CT slices)\n");
  fs::path trees[2] = {work / "nodule" / "n", work / "nodule" / "n4"};
  for (int i = 0; i < 2; ++i)
    if (!fs::exists(trees[i] / ".done")) {
      fs::remove_all(trees[i]);
      shell("/usr/bin/python3 " MMB_SOURCE_DIR "/tools/fixtures/make_lidc_fixture.py '" + trees[i].string() +
            "' --matrix 512 --patients " + std::to_string(i ? 4 : 1) + " >/dev/null");
      std::ofstream(trees[i] / ".done").flush();
    }
  const mmb::DicomTree tree = mmb::scan_dicom_tree(trees[0]);
  const mmb::DicomSeries& series = tree.ct.front();
  mmb::read_ct_series(series);  // warm the page cache
  const double ours = median_of([&] {
    const double start = thread_cpu();
    const auto v = mmb::read_ct_series(series);
    return (thread_cpu() - start) / double(series.slices.size());
  });
  const std::string out_file = (work / "nodule" / "peer.txt").string();
  const double peer = median_of([&] {
    mmb::bench::run_command(kPython + " dicom '" + series.folder.string() + "'", out_file);
    double s = 0;
    std::ifstream(out_file) >> s;
    return s;
  });
  std::printf("  series read to HU (%zu slices): ours %.2f ms CPU/slice, pydicom %.2f ms: %.2fx pydicom\n",
              series.slices.size(), 1000 * ours, 1000 * peer, ours / peer);
  Side build_side;
  build_side.count_n = 1;
  build_side.count_n4 = 4;
  const fs::path out = work / "nodule" / "out";
  build_side.n = median_run([&] { return build("nodulemnist3d", trees[0], out, 1); });
  build_side.n4 = median_run([&] { return build("nodulemnist3d", trees[1], out, 1); });
  std::printf("  whole build, 1 thread, per patient (1 and 4 patients):\n");
  print_side("ours", build_side);
}

// ---- Synapse: crops from an EM slice stack ----

void bench_synapse(const fs::path& work) {
  // 500 crops of 557 KB already exceed the default 256 MB budget for waiting crops.
  constexpr int kSlices = 120, kSide = 1536, kN = 500;
  std::printf("\nsynapsemnist3d (%d PNG slices of %dx%d, crops 128x128x34)\n", kSlices, kSide, kSide);
  const fs::path dir = work / "synapse";
  if (!fs::exists(dir / ".done")) {
    fs::remove_all(dir);
    mmb::bench::write_volume(dir, kSlices, kSide);
    fs::remove(dir / "volume.h5");
    std::ofstream(dir / ".done").flush();
  }
  mmb::bench::write_metadata(dir, false);
  Side ours, peer;
  ours.count_n = peer.count_n = kN;
  ours.count_n4 = peer.count_n4 = 4 * kN;
  const fs::path out = work / "synapse-out";
  for (int i = 0; i < 2; ++i) {
    mmb::bench::write_synapses(dir, i ? 4 * kN : kN, kSlices, kSide);
    (i ? ours.n4 : ours.n) = median_run([&] { return build("synapsemnist3d", dir, out, 2); });
    (i ? peer.n4 : peer.n) = median_run([&] {
      fs::remove_all(out);
      fs::create_directories(out);
      return mmb::bench::run_command(kPython + " synapse '" + (dir / "im").string() + "' '" +
                                     (dir / "synapses.csv").string() + "' '" + out.string() + "'");
    }, 1);  // a minute per run: once
  }
  // With a budget below N's waiting crops, both builds hold exactly the budget.
  Side small;
  small.count_n = kN;
  small.count_n4 = 4 * kN;
  for (int i = 0; i < 2; ++i) {
    mmb::bench::write_synapses(dir, i ? 4 * kN : kN, kSlices, kSide);
    (i ? small.n4 : small.n) = median_run(
        [&] { return build("synapsemnist3d", dir, out, 2, "--set source.waiting_crops_mb=32"); }, 1);
  }
  std::printf("  ours with 2 threads; python loads the stack once:\n");
  print_side("ours", ours);
  print_side("python", peer);
  std::printf("  ours with --set source.waiting_crops_mb=32 (below the waiting crops of N):\n");
  print_side("ours", small);
}

}  // namespace

int main(int argc, char** argv) {
  mmb::keep_freed_memory_for_reuse();
  g_repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const fs::path work = argc > 2 ? argv[2] : "/tmp/mmb-bench-peers";
  const std::string which = argc > 3 ? argv[3] : "chest,path,derma,organ,nodule,synapse";
  const auto wanted = [&](const std::string& name) { return which.find(name) != std::string::npos; };
  fs::create_directories(work);
  std::printf("bench_peers: CPU time, median of %d runs; per sample = marginal cost of 4N vs N samples\n", g_repeats);
  const std::string fixtures = "/usr/bin/python3 " MMB_SOURCE_DIR "/tools/fixtures/";
  if (wanted("chest"))
    bench_2d({"chestmnist", "L", ".png",
              [&](const fs::path& dir, int scale) {
                shell(fixtures + "make_bench_images.py '" + dir.string() + "' --count " + std::to_string(24 * scale) +
                      " >/dev/null");
              }},
             work);
  if (wanted("path"))
    bench_2d({"pathmnist", "RGB", ".tif",
              [&](const fs::path& dir, int scale) {
                shell(fixtures + "make_kather_fixture.py '" + dir.string() + "' --train-per-class " +
                      std::to_string(8 * scale) + " --test-per-class " + std::to_string(2 * scale) + " >/dev/null");
              }},
             work);
  if (wanted("derma"))
    bench_2d({"dermamnist", "RGB", ".jpg",
              [&](const fs::path& dir, int scale) {
                shell(fixtures + "make_ham10000_fixture.py '" + dir.string() + "' --lesions " +
                      std::to_string(40 * scale) + " >/dev/null");
              }},
             work);
  if (wanted("organ")) bench_organ(work);
  if (wanted("nodule")) bench_nodule(work);
  if (wanted("synapse")) bench_synapse(work);
  return 0;
}
