// Public resize API: kernel names, the weight cache, and the conversions
// around the float passes (resize_passes.cpp) and weights (resize_weights.cpp).
#include "common/ops/resize.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#include "common/ops/pil_resample.h"
#include "common/ops/resize_passes.h"
#include "common/ops/resize_weights.h"

namespace mmb {

using resize_detail::ResizeJob;

const std::vector<ResizeKernel>& all_resize_kernels() {
  static const std::vector<ResizeKernel> all{
      ResizeKernel::Spline,     ResizeKernel::Area,       ResizeKernel::Linear,      ResizeKernel::Nearest,
      ResizeKernel::PilNearest, ResizeKernel::PilBox,     ResizeKernel::PilBilinear, ResizeKernel::PilHamming,
      ResizeKernel::PilBicubic, ResizeKernel::PilLanczos};
  return all;
}

bool is_pil_kernel(ResizeKernel kernel) { return kernel >= ResizeKernel::PilNearest; }

ResizeKernel parse_resize_kernel(std::string_view name) {
  for (ResizeKernel k : all_resize_kernels())
    if (resize_kernel_name(k) == name) return k;
  std::string names;
  for (ResizeKernel k : all_resize_kernels()) names += (names.empty() ? "" : ", ") + std::string(resize_kernel_name(k));
  throw std::invalid_argument("unknown resize kernel '" + std::string(name) + "' (expected one of " + names + ")");
}

std::string_view resize_kernel_name(ResizeKernel kernel) {
  switch (kernel) {
    case ResizeKernel::Spline: return "spline";
    case ResizeKernel::Area: return "area";
    case ResizeKernel::Linear: return "linear";
    case ResizeKernel::Nearest: return "nearest";
    case ResizeKernel::PilNearest: return "pil-nearest";
    case ResizeKernel::PilBox: return "pil-box";
    case ResizeKernel::PilBilinear: return "pil-bilinear";
    case ResizeKernel::PilHamming: return "pil-hamming";
    case ResizeKernel::PilBicubic: return "pil-bicubic";
    case ResizeKernel::PilLanczos: return "pil-lanczos";
  }
  return "?";
}

namespace {

PilFilter pil_filter(ResizeKernel kernel) {
  switch (kernel) {
    case ResizeKernel::PilNearest: return PilFilter::Nearest;
    case ResizeKernel::PilBox: return PilFilter::Box;
    case ResizeKernel::PilBilinear: return PilFilter::Bilinear;
    case ResizeKernel::PilHamming: return PilFilter::Hamming;
    case ResizeKernel::PilBicubic: return PilFilter::Bicubic;
    case ResizeKernel::PilLanczos: return PilFilter::Lanczos;
    default: break;
  }
  throw std::invalid_argument("resize kernel '" + std::string(resize_kernel_name(kernel)) + "' is not a Pillow filter");
}

// Pillow's filters are 2D: a volume keeps its depth and is resized per slice.
Image pil_resize_checked(const Image& in, int out_w, int out_h, int out_d, ResizeKernel kernel) {
  if (out_d != in.depth)
    throw std::invalid_argument("resize kernel '" + std::string(resize_kernel_name(kernel)) +
                                "' resizes 2D images only (depth " + std::to_string(in.depth) + " -> " +
                                std::to_string(out_d) + ")");
  return pil_resize(in, out_w, out_h, pil_filter(kernel));
}

void reject_pil_for_float(ResizeKernel kernel) {
  if (is_pil_kernel(kernel))
    throw std::invalid_argument("resize kernel '" + std::string(resize_kernel_name(kernel)) +
                                "' works on 8-bit images only");
}

}  // namespace

std::shared_ptr<const AxisWeights> axis_weights(int n_in, int n_out, ResizeKernel kernel) {
  // The pipeline resizes from many TBB threads; a spline row costs a solve of
  // length n_in, so weights are built once per (n_in, n_out, kernel). Building
  // happens outside the lock: two threads may race to build the same entry,
  // the first insert wins and both get equal weights.
  reject_pil_for_float(kernel);  // Pillow's taps are fixed point (pil_detail::pil_axis)
  using Key = std::tuple<int, int, ResizeKernel>;
  static std::mutex mutex;
  static std::map<Key, std::shared_ptr<const AxisWeights>> cache;
  if (n_in == n_out) kernel = ResizeKernel::Nearest;  // all kernels are the identity here
  const Key key{n_in, n_out, kernel};
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto built = std::make_shared<const AxisWeights>(resize_detail::build_axis_weights(n_in, n_out, kernel));
  std::lock_guard lock(mutex);
  return cache.emplace(key, std::move(built)).first->second;
}

namespace {

struct Shape {
  int w, h, d, c;
  bool operator==(const Shape&) const = default;
};

void check_input(const Shape& in, std::size_t values) {
  if (in.w < 1 || in.h < 1 || in.d < 1 || in.c < 1 || in.c > resize_detail::kMaxChannels ||
      values != static_cast<std::size_t>(in.w) * in.h * in.d * in.c)
    throw std::invalid_argument("resize: input is empty or its pixel buffer does not match " +
                                std::to_string(in.w) + "x" + std::to_string(in.h) + "x" +
                                std::to_string(in.d) + "x" + std::to_string(in.c));
}

ResizeJob make_job(const Shape& in, const Shape& out, ResizeKernel kernel) {
  if (out.w < 1 || out.h < 1 || out.d < 1)
    throw std::invalid_argument("resize: output size must be >= 1 on every axis");
  ResizeJob job;
  job.in_w = in.w, job.in_h = in.h, job.in_d = in.d, job.channels = in.c;
  job.out_w = out.w, job.out_h = out.h, job.out_d = out.d;
  job.wx = axis_weights(in.w, out.w, kernel);
  job.wy = axis_weights(in.h, out.h, kernel);
  if (job.resizes_depth()) job.wz = axis_weights(in.d, out.d, kernel);
  return job;
}

// The clip range: the input's [min, max] for the spline (whose negative lobes
// overshoot; skimage's clip=True), none otherwise (the other kernels are
// convex combinations and cannot leave the input's range).
using resize_detail::ValueRange;
ValueRange clip_range(ValueRange input_range, ResizeKernel kernel, bool clip) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  if (!clip || kernel != ResizeKernel::Spline) return {-inf, inf};
  return input_range;
}

Image to_image(const ResizeJob& job, ValueRange range) {
  Image out(job.out_w, job.out_h, job.out_d, job.channels);
  const float* src = job.result;
  std::uint8_t* dst = out.pixels.data();
  // An integer input range rounds to itself, so it is applied after rounding.
  const int lo = static_cast<int>(std::clamp(range.lo, 0.f, 255.f));
  const int hi = static_cast<int>(std::clamp(range.hi, 0.f, 255.f));
  for (std::size_t i = 0; i < out.pixels.size(); ++i) dst[i] = resize_detail::round_to_u8(src[i], lo, hi);
  return out;
}

FloatImage to_float_image(const ResizeJob& job, ValueRange range) {
  FloatImage out{job.out_w, job.out_h, job.out_d, job.channels, {}};
  out.data.assign(job.result, job.result + job.out_values());
  for (float& v : out.data) v = std::clamp(v, range.lo, range.hi);
  return out;
}

FloatImage resize_float_impl(const FloatImage& in, int out_w, int out_h, int out_d, ResizeKernel kernel,
                             bool clip) {
  reject_pil_for_float(kernel);
  const Shape shape{in.width, in.height, in.depth, in.channels};
  check_input(shape, in.data.size());
  const Shape out{out_w, out_h, out_d, in.channels};
  if (out == shape) return in;
  std::vector<ResizeJob> jobs;
  jobs.push_back(make_job(shape, out, kernel));
  const ValueRange input_range = resize_detail::run_resize_jobs(in.data.data(), jobs);
  return to_float_image(jobs.front(), clip_range(input_range, kernel, clip));
}

}  // namespace

FloatImage resize_float(const FloatImage& in, int out_w, int out_h, int out_d, ResizeKernel kernel) {
  return resize_float_impl(in, out_w, out_h, out_d, kernel, true);
}

FloatImage resize_float_unclipped(const FloatImage& in, int out_w, int out_h, int out_d, ResizeKernel kernel) {
  return resize_float_impl(in, out_w, out_h, out_d, kernel, false);
}

Image resize(const Image& in, int out_w, int out_h, int out_d, ResizeKernel kernel) {
  const Shape shape{in.width, in.height, in.depth, in.channels};
  check_input(shape, in.pixels.size());
  const Shape out{out_w, out_h, out_d, in.channels};
  if (out == shape) return in;
  if (is_pil_kernel(kernel)) return pil_resize_checked(in, out_w, out_h, out_d, kernel);
  std::vector<ResizeJob> jobs;
  jobs.push_back(make_job(shape, out, kernel));
  const ValueRange input_range = resize_detail::run_resize_jobs(in.pixels.data(), jobs);
  return to_image(jobs.front(), clip_range(input_range, kernel, true));
}

std::vector<Image> resize_to_sizes(const Image& in, const std::vector<int>& sizes, ResizeKernel kernel) {
  const Shape shape{in.width, in.height, in.depth, in.channels};
  check_input(shape, in.pixels.size());
  const bool flat = in.depth == 1;
  if (is_pil_kernel(kernel) && flat) {
    std::vector<std::pair<int, int>> squares;
    for (int s : sizes) squares.emplace_back(s, s);
    return pil_resize_to_sizes(in, squares, pil_filter(kernel));  // one transpose of the input for all sizes
  }
  if (is_pil_kernel(kernel)) {  // a volume: only a size equal to its depth can pass
    std::vector<Image> out;
    for (int s : sizes) out.push_back(s == in.width && s == in.height && s == in.depth ? in : pil_resize_checked(in, s, s, s, kernel));
    return out;
  }
  // Sizes equal to the input are returned as the source pixels (PathMNIST at
  // 224); all the others share one pass over the input.
  std::vector<ResizeJob> jobs;
  std::vector<int> job_of(sizes.size(), -1);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const Shape out{sizes[i], sizes[i], flat ? 1 : sizes[i], in.channels};
    if (out == shape) continue;
    job_of[i] = static_cast<int>(jobs.size());
    jobs.push_back(make_job(shape, out, kernel));
  }
  const ValueRange range = clip_range(resize_detail::run_resize_jobs(in.pixels.data(), jobs), kernel, true);
  std::vector<Image> out;
  out.reserve(sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (job_of[i] < 0) out.push_back(in);
    else out.push_back(to_image(jobs[job_of[i]], range));
  }
  return out;
}

}  // namespace mmb
