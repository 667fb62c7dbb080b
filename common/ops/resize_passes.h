#pragma once
// Internal to resize: the separable passes. Every pass is "output row i = sum
// over k of w[k] * input row (first[i] + k)" on whole contiguous rows, which
// the compiler vectorises; the layouts are chosen so that each axis in turn is
// the row axis:
//  1. y, on each input slice: rows of W*C values (the full-resolution input,
//     converted to float strip by strip), written transposed into "columns":
//     W rows of out_h*C floats;
//  2. x, on the columns, written transposed back: the slice's out_h x out_w
//     output plane;
//  3. z (3D, when the depth changes): rows are those planes.
// A 2D image is one slice. Doing y and x per input slice keeps the slice in
// cache and reads the input in order; z last runs on the smallest data.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/ops/resize.h"

namespace mmb::resize_detail {

// More interleaved channels than any image format has; resize rejects more.
inline constexpr int kMaxChannels = 16;

// One output geometry of a resize, with its weights and buffers.
struct ResizeJob {
  int in_w = 0, in_h = 0, in_d = 1, channels = 1;
  int out_w = 0, out_h = 0, out_d = 1;
  std::shared_ptr<const AxisWeights> wx, wy, wz;  // wz only when in_d != out_d

  // Set by run_resize_jobs, in this thread's scratch memory: valid until the
  // thread's next run_resize_jobs. Buffers whose rows are read as taps have
  // padded row strides (see padded_stride in resize_passes.cpp).
  float* columns = nullptr;  // one slice after y: in_w rows of out_h*C
  float* planes = nullptr;   // every slice after x: in_d planes of out_h*out_w*C
  float* result = nullptr;   // row-major output: out_d x out_h x out_w x C
  std::size_t column_stride = 0, plane_stride = 0;

  bool resizes_depth() const { return in_d != out_d; }
  std::size_t plane_values() const { return static_cast<std::size_t>(out_h) * out_w * channels; }
  std::size_t out_values() const { return plane_values() * out_d; }
};

struct ValueRange {
  float lo, hi;
};

// Runs every job on the same input (interleaved, x fastest). The y pass over
// the full-resolution input is strip-mined: a strip of columns is converted
// to float once and kept in cache while all jobs read it. Returns the input's
// [min, max] (found while converting it; {0, 0} when there are no jobs).
template <class T>
ValueRange run_resize_jobs(const T* input, std::vector<ResizeJob>& jobs);

// out[0..len) = sum_k w[k] * rows[k * stride + 0..len): one output row,
// count >= 1. Uses AVX2 when the CPU has it; weighted_row_sum_portable is the
// baseline (SSE2) build of the same loop, with bit-identical results.
void weighted_row_sum(const float* rows, std::size_t stride, const float* w, int count,
                      float* out, std::size_t len);
void weighted_row_sum_portable(const float* rows, std::size_t stride, const float* w, int count,
                               float* out, std::size_t len);

// Round to nearest, ties to even (std::nearbyint in the default rounding
// mode), then clamp to [lo, hi] within 0..255. Adding and subtracting
// 1.5 * 2^23 leaves no fraction bits, so the FPU rounds exactly as nearbyint
// does (for |v| < 2^22); unlike std::nearbyint this stays inline and
// vectorises without SSE4.1. Clamping after rounding, in integers, equals
// clamping before it because lo and hi are integers, and integer compares
// vectorise where float ones (which may trap) do not. test_resize checks the
// agreement with nearbyint on every multiple of 1/256 in -2..257.
inline std::uint8_t round_to_u8(float v, int lo = 0, int hi = 255) {
  int r = static_cast<int>((v + 0x1.8p23f) - 0x1.8p23f);
  r = r < lo ? lo : r;
  r = r > hi ? hi : r;
  return static_cast<std::uint8_t>(r);
}

}  // namespace mmb::resize_detail
