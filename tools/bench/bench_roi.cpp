// bench_roi: one 64 mm ROI crop (cubic B-spline on a padded sub-block, as
// FractureMNIST3D renders each fracture) versus resampling the whole scan to
// 1 mm first and cropping from that (the usual "resample, then crop" route),
// on a 512x512x300 int16-like CT volume with 0.7 x 0.7 x 1.25 mm spacing.
// The whole-volume route runs the same code (resample_roi with the whole scan
// as the box), so the comparison isolates how much of the scan is touched.
// One thread; figures are the median (and minimum) of the repetitions.
// Usage: bench_roi [crops=20] [whole_reps=2]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/core/allocator.h"
#include "common/ops/resize.h"
#include "common/ops/roi_resample.h"
#include "common/ops/window.h"

namespace {

using mmb::RoiRequest;
using mmb::Volume;

// A chest-like CT in HU, rounded to integers as int16 scans are: air, a body
// ellipse of soft tissue, lungs, a ring of ribs, a spine, noise.
Volume synthetic_ct() {
  Volume v;
  v.size = {512, 512, 300};
  v.spacing = {0.7, 0.7, 1.25};
  v.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  v.origin = {-179.0, -179.0, -370.0};
  v.voxels.resize(v.count());
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.f, 15.f);
  for (int k = 0; k < v.size[2]; ++k)
    for (int j = 0; j < v.size[1]; ++j)
      for (int i = 0; i < v.size[0]; ++i) {
        const double x = (i - 256) / 230.0, y = (j - 256) / 170.0, r = std::hypot(x, y);
        float hu = -1000;
        if (r < 1.0) hu = 40;
        if (std::hypot((std::abs(x) - 0.45) / 0.35, y / 0.7) < 1.0) hu = -850;
        if (r > 0.88 && r < 0.95 && std::sin(k * 0.25) > -0.2) hu = 700;
        if (std::hypot(x, (y - 0.6) / 0.7) < 0.1) hu = 500;
        v.at(i, j, k) = std::round(hu + noise(rng));
      }
  return v;
}

// Wall time is noisy on a shared machine; the thread's CPU time is what the
// work costs. Both are reported (median and minimum over the repetitions).
struct Timing {
  double wall_median, wall_min, cpu_median, cpu_min;
};

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

Timing time_ms(int reps, const std::function<void(int)>& fn) {
  std::vector<double> wall, cpu;
  for (int n = 0; n < reps; ++n) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu_ms();
    fn(n);
    cpu.push_back(thread_cpu_ms() - c0);
    wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], wall.front(), cpu[cpu.size() / 2], cpu.front()};
}

void print(const std::string& what, Timing t) {
  std::printf("%-58s cpu %9.2f ms (min %8.2f)  wall %9.2f ms\n", what.c_str(), t.cpu_median, t.cpu_min,
              t.wall_median);
}

// A fracture-like centre: on the rib ring, at varying height.
RoiRequest fracture_crop(const Volume& v, int n) {
  RoiRequest r;
  const double angle = 0.7 * n;
  r.centre_mm = v.to_physical({256 + 0.9 * 230 * std::cos(angle), 256 + 0.9 * 170 * std::sin(angle), 40.0 + 11 * n % 220});
  r.size_mm = {64, 64, 64};
  r.out_size = {64, 64, 64};
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  mmb::keep_freed_memory_for_reuse();  // as the CLI does: no fresh pages per sample
  const int crops = argc > 1 ? std::atoi(argv[1]) : 20;
  const int whole_reps = argc > 2 ? std::atoi(argv[2]) : 2;
  std::printf("building a 512x512x300 CT volume, spacing 0.7 x 0.7 x 1.25 mm ...\n");
  const Volume ct = synthetic_ct();

  const mmb::IndexBox block = mmb::roi_source_block(ct, fracture_crop(ct, 0));
  std::printf("one crop reads a %d x %d x %d sub-block (%.2f%% of the scan)\n", block.size[0], block.size[1],
              block.size[2], 100.0 * block.size[0] * block.size[1] * block.size[2] / ct.count());

  const mmb::HuWindow bone{400, 1200};
  const Timing one = time_ms(crops, [&](int n) { mmb::resample_roi(ct, fracture_crop(ct, n)); });
  print("ROI crop 64 mm -> 64^3 (sub-block, cubic, anti-aliased)", one);
  const Timing with_sizes = time_ms(crops, [&](int n) {
    const mmb::Image crop = mmb::window_to_image(mmb::resample_roi(ct, fracture_crop(ct, n)), bone);
    mmb::resize(crop, 28, 28, 28, mmb::ResizeKernel::Spline);
  });
  print("  + window + resize to 28^3 (what render() does)", with_sizes);

  // Whole scan to 1 mm, then a 64^3 crop of that (nearest at integer
  // positions: a copy). Same grid convention: the box is the scan's extent.
  RoiRequest whole;
  whole.centre_mm = ct.to_physical({255.5, 255.5, 149.5});
  for (int a = 0; a < 3; ++a) {
    whole.size_mm[a] = ct.size[a] * ct.spacing[a];
    whole.out_size[a] = static_cast<int>(std::lround(whole.size_mm[a]));
    whole.size_mm[a] = whole.out_size[a];  // exactly 1 mm voxels
  }
  Volume one_mm;
  const Timing all = time_ms(whole_reps, [&](int) { one_mm = mmb::resample_roi(ct, whole); });
  print("whole scan -> 1 mm (" + std::to_string(whole.out_size[0]) + "x" + std::to_string(whole.out_size[1]) + "x" +
            std::to_string(whole.out_size[2]) + "), same code",
        all);
  const Timing copy = time_ms(crops, [&](int n) {
    RoiRequest r = fracture_crop(one_mm, 0);
    r.centre_mm = fracture_crop(ct, n).centre_mm;
    r.interpolation = mmb::RoiInterpolation::Nearest;
    mmb::resample_roi(one_mm, r);
  });
  print("  then a 64^3 crop of the 1 mm volume (nearest)", copy);
  std::printf("speed-up of one ROI crop over resample-then-crop (cpu time): %.0fx (median), %.0fx (min)\n",
              (all.cpu_median + copy.cpu_median) / one.cpu_median, (all.cpu_min + copy.cpu_min) / one.cpu_min);
  std::printf("a scan with 3 fractures: %.0f ms by ROI crops vs %.0f ms by whole-scan resampling (cpu)\n",
              3 * one.cpu_median, all.cpu_median + 3 * copy.cpu_median);
  return 0;
}
