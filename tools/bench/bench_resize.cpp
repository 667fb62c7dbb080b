// bench_resize: milliseconds per image of a resize kernel on one thread.
//   2D: 1024x1024 gray uint8 -> 28, 64, 128, 224 (each alone, then all four
//       through resize_to_sizes, as the pipeline calls it);
//   3D: 256^3 uint8 -> 28^3 and -> 64^3 (not for the 2D-only pil-* kernels).
// The weight cache is warmed first (it is built once per geometry per run); the
// figures are the median (and minimum) of the timed repetitions.
// Usage: bench_resize [kernel]   (spline | area | linear | nearest | pil-*)
//        bench_resize --compare  the 2D table of spline beside every pil-* kernel, with
//                                each kernel's time as a multiple of spline's (RGB 600x450
//                                too, DermaMNIST's source size)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/ops/geometry.h"
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

// One row per kernel: the four MedMNIST sizes through resize_to_sizes, from a gray
// 1024^2 (ChestMNIST) and an RGB 600x450 (DermaMNIST) image.
int compare_kernels() {
  const mmb::Image gray = synthetic(1024, 1024, 1);
  const mmb::Image small = synthetic(600, 450, 1);
  const mmb::Image rgb = mmb::to_channels(small, 3);
  const std::vector<int> sizes{28, 64, 128, 224};
  std::printf("median (min) ms per image; x spline: ratio of the medians\n");
  std::printf("%-14s %24s %8s %24s %8s\n", "kernel", "gray 1024^2 -> 4 sizes", "x spline", "RGB 600x450 -> 4 sizes",
              "x spline");
  double base_gray = 0, base_rgb = 0;
  for (const char* name : {"spline", "pil-nearest", "pil-box", "pil-bilinear", "pil-hamming", "pil-bicubic", "pil-lanczos"}) {
    const mmb::ResizeKernel k = mmb::parse_resize_kernel(name);
    const Timing g = time_ms(50, [&] { mmb::resize_to_sizes(gray, sizes, k); });
    const Timing c = time_ms(50, [&] { mmb::resize_to_sizes(rgb, sizes, k); });
    if (k == mmb::ResizeKernel::Spline) base_gray = g.median, base_rgb = c.median;
    std::printf("%-14s %12.3f (%8.3f) %8.2f %12.3f (%8.3f) %8.2f\n", name, g.median, g.min, g.median / base_gray,
                c.median, c.min, c.median / base_rgb);
  }
  // The Python peer: Debian's Pillow doing the same four resizes (what MedMNIST's
  // torchvision pipeline runs), timed in its own process.
  std::printf("\nPillow (python3-pil), same sizes and repetitions:\n");
  std::fflush(stdout);
  const std::string script =
      "import time, numpy as np\n"
      "from PIL import Image\n"
      "rng = np.random.default_rng(7)\n"
      "imgs = [Image.fromarray(rng.integers(0, 256, (1024, 1024), dtype=np.uint8)),\n"
      "        Image.fromarray(rng.integers(0, 256, (450, 600, 3), dtype=np.uint8))]\n"
      "for name in ('NEAREST', 'BOX', 'BILINEAR', 'HAMMING', 'BICUBIC', 'LANCZOS'):\n"
      "    row = []\n"
      "    for img in imgs:\n"
      "        ms = []\n"
      "        for _ in range(51):\n"
      "            t = time.perf_counter()\n"
      "            for s in (28, 64, 128, 224): img.resize((s, s), getattr(Image.Resampling, name))\n"
      "            ms.append((time.perf_counter() - t) * 1e3)\n"
      "        ms.sort()\n"
      "        row.append('%12.3f (%8.3f)' % (ms[len(ms) // 2], ms[0]))\n"
      "    print('%-14s %s %8s %s' % ('PIL ' + name.lower(), row[0], '', row[1]))\n";
  const std::string cmd = "/usr/bin/python3 -c \"" + script + "\"";
  if (std::system(cmd.c_str()) != 0) std::printf("(python3-pil not available)\n");
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--compare") return compare_kernels();
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

  if (mmb::is_pil_kernel(kernel)) return 0;  // Pillow's filters are 2D
  const mmb::Image vol = synthetic(256, 256, 256);
  for (int s : {28, 64})
    print("3D 256^3 -> " + std::to_string(s) + "^3", time_ms(9, [&] { mmb::resize(vol, s, s, s, kernel); }));
  print("3D resize_to_sizes {28,64}", time_ms(9, [&] { mmb::resize_to_sizes(vol, {28, 64}, kernel); }));
  return 0;
}
