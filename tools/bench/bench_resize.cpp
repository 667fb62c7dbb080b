// bench_resize: milliseconds per image of the spline resize on one thread.
//   2D: 1024x1024 gray uint8 -> 28, 64, 128, 224 (each alone, then all four
//       through resize_to_sizes, as the pipeline calls it);
//   3D: 256^3 uint8 -> 28^3 and -> 64^3.
// The weight cache is warmed first (it is built once per geometry per run); the
// figures are the median (and minimum) of the timed repetitions.
// Usage: bench_resize [kernel]   (spline | area | linear | nearest)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/core/allocator.h"
#include "common/ops/resize.h"

namespace {

// Smooth structure, an edge and noise, like a radiograph.
mmb::Image synthetic(int w, int h, int d) {
  mmb::Image img(w, h, d, 1);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.f, 12.f);
  for (int z = 0; z < d; ++z)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        float v = 110.f + 60.f * std::sin(x * 0.013f) * std::cos(y * 0.021f + z * 0.05f);
        if (x > w / 3 && y > h / 4) v += 40.f;
        img.at(x, y, z) = static_cast<std::uint8_t>(std::clamp(v + noise(rng), 0.f, 255.f));
      }
  return img;
}

struct Timing {
  double median, min;
};

// Machines running other work make single runs noisy: the median is the
// figure to quote, the minimum shows what an idle core does.
Timing time_ms(int reps, const std::function<void()>& fn) {
  fn();  // warm the weight cache and the scratch memory
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

void print(const std::string& what, Timing t) {
  std::printf("%-40s %8.3f ms  (min %.3f)\n", what.c_str(), t.median, t.min);
}

}  // namespace

int main(int argc, char** argv) {
  mmb::keep_freed_memory_for_reuse();  // as the CLI does: no fresh pages per sample
  const mmb::ResizeKernel kernel = mmb::parse_resize_kernel(argc > 1 ? argv[1] : "spline");
  std::printf("kernel: %s, 1 thread\n", std::string(mmb::resize_kernel_name(kernel)).c_str());

  const mmb::Image img = synthetic(1024, 1024, 1);
  const std::vector<int> sizes{28, 64, 128, 224};
  Timing sum{0, 0};
  for (int s : sizes) {
    const Timing t = time_ms(100, [&] { mmb::resize(img, s, s, 1, kernel); });
    sum.median += t.median;
    sum.min += t.min;
    print("2D 1024^2 -> " + std::to_string(s) + "^2", t);
  }
  print("2D sum of the four calls", sum);
  print("2D resize_to_sizes {28,64,128,224}", time_ms(100, [&] { mmb::resize_to_sizes(img, sizes, kernel); }));

  const mmb::Image vol = synthetic(256, 256, 256);
  for (int s : {28, 64})
    print("3D 256^3 -> " + std::to_string(s) + "^3", time_ms(9, [&] { mmb::resize(vol, s, s, s, kernel); }));
  print("3D resize_to_sizes {28,64}", time_ms(9, [&] { mmb::resize_to_sizes(vol, {28, 64}, kernel); }));
  return 0;
}
