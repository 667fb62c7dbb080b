// Benchmark: the NoduleMNIST3D path on a LIDC-shaped tree of full-size 512x512
// CT slices (tools/fixtures/make_lidc_fixture.py --matrix 512).
//
//   build/tools/bench_lidc [PATIENTS=4] [WORK_DIR=/tmp/mmb-bench-lidc]
//
// Prints: the one-pass header scan of the tree (ms per file), the HU volume
// read (ms per slice, MB/s of pixels), the XML read + pylidc clustering per
// series, the 28 mm crop and the 64^3 upsample per nodule, and whole CLI
// builds with 1 and 2 threads with their peak RSS. Figures, not assertions:
// the test suite never runs this.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/core/allocator.h"
#include "tools/bench/bench_util.h"

#include "common/io/dicom_series.h"
#include "common/io/files.h"
#include "common/ops/resize.h"
#include "common/ops/roi_resample.h"
#include "common/ops/window.h"
#include "converters/lidc_consensus.h"
#include "converters/lidc_listing.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

using RunStats = mmb::bench::CliRun;

RunStats run_build(const fs::path& source, const fs::path& out, int threads) {
  fs::remove_all(out);
  return mmb::bench::run_cli("build nodulemnist3d --source " + source.string() + " --out " + out.string() +
                        " --threads " + std::to_string(threads) + " -q");
}

}  // namespace

int main(int argc, char** argv) {
  mmb::keep_freed_memory_for_reuse();  // as the CLI does: no fresh pages per sample
  const int patients = argc > 1 ? std::atoi(argv[1]) : 4;
  const fs::path work = argc > 2 ? argv[2] : "/tmp/mmb-bench-lidc";
  const fs::path src = work / "src";
  if (!fs::exists(src)) {
    const std::string cmd = "/usr/bin/python3 " MMB_SOURCE_DIR "/tools/fixtures/make_lidc_fixture.py " + src.string() +
                            " --matrix 512 --patients " + std::to_string(patients);
    std::printf("generating: %s\n", cmd.c_str());
    if (std::system(cmd.c_str()) != 0) return 1;
  }

  auto start = Clock::now();
  const mmb::DicomTree tree = mmb::scan_dicom_tree(src);
  const double scan_s = since(start);
  std::size_t files = 0, slices = 0;
  for (const auto& s : tree.ct) files += s.files.size();
  std::printf("header scan (gdcm::Scanner, one pass): %zu CT files in %zu series, %.1f ms, %.3f ms/file\n", files,
              tree.ct.size(), 1000 * scan_s, 1000 * scan_s / static_cast<double>(files));

  mmb::Enumeration e;
  mmb::lidc::ListingTally tally;
  const auto messages = mmb::lidc::read_messages(src, e, tally);
  double read_s = 0, xml_s = 0, crop_s = 0, up_s = 0;
  std::size_t nodules = 0, voxels = 0;
  for (const auto& series : tree.ct) {
    const auto msg = messages.find(series.series_uid);
    if (msg == messages.end()) continue;
    start = Clock::now();
    const mmb::Volume hu = mmb::read_ct_series(series);
    read_s += since(start);
    slices += series.slices.size();
    voxels += hu.count();

    start = Clock::now();
    const auto again = mmb::lidc::read_lidc_xml(msg->second.file);
    std::vector<double> slice_z;
    for (const auto& s : series.slices) slice_z.push_back(s.z());
    std::vector<mmb::lidc::Annotation> anns;
    for (const auto& n : again.nodules) anns.push_back(mmb::lidc::to_index_space(n, slice_z));
    const auto clusters = mmb::lidc::cluster_annotations(anns, {series.slice_thickness});
    xml_s += since(start);

    for (const auto& members : clusters.clusters) {
      const auto c = mmb::lidc::cluster_centroid(anns, members);
      mmb::RoiRequest roi;
      roi.centre_mm = hu.to_physical({c[1], c[0], c[2]});
      roi.size_mm = {28, 28, 28};
      start = Clock::now();
      const mmb::Image crop = mmb::window_to_image(mmb::resample_roi(hu, roi), {-600, 1500});
      crop_s += since(start);
      start = Clock::now();
      const mmb::Image up = mmb::resize(crop, 64, 64, 64, mmb::ResizeKernel::Spline);
      up_s += since(start);
      nodules += up.empty() ? 0 : 1;
    }
  }
  std::printf("HU volume read (ITK GDCMImageIO, truncation check): %zu slices, %.3f ms/slice, %.0f MB/s of int16 pixels\n",
              slices, 1000 * read_s / static_cast<double>(slices), 2.0 * static_cast<double>(voxels) / read_s / 1e6);
  std::printf("XML read + index space + clustering: %.2f ms/series\n", 1000 * xml_s / static_cast<double>(messages.size()));
  std::printf("28 mm crop -> 28^3 (cubic B-spline) + window: %.2f ms/nodule; 28^3 -> 64^3 upsample: %.2f ms/nodule (%zu nodules)\n",
              1000 * crop_s / static_cast<double>(nodules), 1000 * up_s / static_cast<double>(nodules), nodules);

  for (int threads : {1, 2}) {
    const RunStats r = run_build(src, work / ("out" + std::to_string(threads)), threads);
    std::printf("CLI build, both sizes, %d thread(s): %.2f s (%.1f ms per slice, all stages), peak RSS %.0f MB\n", threads,
                r.seconds, 1000 * r.seconds / static_cast<double>(slices), r.peak_rss_kb / 1024.0);
  }
  return 0;
}
