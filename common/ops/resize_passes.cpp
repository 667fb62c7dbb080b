// The separable passes of resize. All the arithmetic is float multiply-adds
// over whole rows, written as plain loops the compiler vectorises at -O3 (no
// -ffast-math, no FMA contraction: each output element is summed in the same
// order on every machine, so results are reproducible).
#include "common/ops/resize_passes.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace mmb::resize_detail {
namespace {

// The input strip (all rows of a slice, a few columns, as float) stays in L2
// while every output row of every job is summed from it.
constexpr std::size_t kStripBytes = 256 * 1024;
// Output rows computed together before being stored transposed: a tile of
// kTileRows x kTileLen floats (16 KiB) stays in L1, and each destination pixel
// row then receives kTileRows*C contiguous floats instead of scattered ones.
constexpr std::size_t kTileRows = 16;
constexpr std::size_t kTileLen = 256;
static_assert(kTileLen >= kMaxChannels);

// Row stride (in floats) for a buffer whose rows are read as the taps of a
// pass. The taps are up to ~150 rows read at the same offset; with a
// power-of-two stride they all fall into a few L1 sets and evict each other
// (this doubled the run time of some sizes). An odd number of cache lines
// spreads them over every set.
std::size_t padded_stride(std::size_t len) {
  std::size_t lines = (len + 15) / 16;
  if (lines % 2 == 0) ++lines;
  return lines * 16;
}

// ---------------------------------------------------------------------------
// The multiply-add kernel

// Register blocking: kBlock output floats accumulate over all taps before
// being stored once, so the loop costs one load per multiply-add and no output
// traffic; kBlock / (floats per register) independent accumulators hide the
// add latency. The fixed-size inner loop is unrolled and vectorised by the
// compiler. Returns the first element not done.
template <std::size_t kBlock>
inline std::size_t sum_blocks(const float* rows, std::size_t stride, const float* w, int count, float* out,
                              std::size_t x, std::size_t len) {
  for (; x + kBlock <= len; x += kBlock) {
    float acc[kBlock];
    const float* r = rows + x;
    for (std::size_t l = 0; l < kBlock; ++l) acc[l] = w[0] * r[l];  // count >= 1
    r += stride;
    for (int k = 1; k < count; ++k, r += stride) {
      const float wk = w[k];
      for (std::size_t l = 0; l < kBlock; ++l) acc[l] += wk * r[l];
    }
    for (std::size_t l = 0; l < kBlock; ++l) out[x + l] = acc[l];
  }
  return x;
}

// Wide blocks first, then narrower ones for the rest of the row (rows as short
// as 28 values are common: the x pass of a 28x28 output). Every output element
// is summed as ((w0 r0 + w1 r1) + w2 r2) + ... whatever the block it falls in
// and the vector width, so all variants agree bit for bit.
template <std::size_t kBlock>
inline void weighted_row_sum_blocked(const float* rows, std::size_t stride, const float* w, int count,
                                     float* out, std::size_t len) {
  std::size_t x = sum_blocks<kBlock>(rows, stride, w, count, out, 0, len);
  x = sum_blocks<16>(rows, stride, w, count, out, x, len);
  x = sum_blocks<4>(rows, stride, w, count, out, x, len);
  sum_blocks<1>(rows, stride, w, count, out, x, len);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(MMB_RESIZE_NO_AVX2)
#define MMB_RESIZE_AVX2 1
// The same loop compiled for AVX2 (8 floats per register), chosen at run time.
// AVX2 does not imply FMA, so no multiply-add is contracted and the results
// are those of the SSE2 build; only the speed differs (about 2x here).
// Defining MMB_RESIZE_NO_AVX2 builds the baseline only (to time it).
__attribute__((target("avx2"))) void weighted_row_sum_avx2(const float* rows, std::size_t stride, const float* w,
                                                           int count, float* out, std::size_t len) {
  weighted_row_sum_blocked<64>(rows, stride, w, count, out, len);
}

__attribute__((target("avx2"))) void bytes_to_float_avx2(const std::uint8_t* src, float* dst, std::size_t n) {
  for (std::size_t e = 0; e < n; ++e) dst[e] = static_cast<float>(src[e]);
}

bool have_avx2() {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
}
#endif

// Conversion of the input to float (AVX2 converts 8 bytes in two
// instructions, SSE2 needs unpacking: 1.3-1.5x faster where it matters, the
// 3D input).
void to_float(const std::uint8_t* src, float* dst, std::size_t n) {
#ifdef MMB_RESIZE_AVX2
  if (have_avx2()) return bytes_to_float_avx2(src, dst, n);
#endif
  for (std::size_t e = 0; e < n; ++e) dst[e] = static_cast<float>(src[e]);
}

void to_float(const float* src, float* dst, std::size_t n) { std::copy(src, src + n, dst); }

}  // namespace

void weighted_row_sum_portable(const float* rows, std::size_t stride, const float* w, int count, float* out,
                               std::size_t len) {
  weighted_row_sum_blocked<32>(rows, stride, w, count, out, len);  // 8 SSE registers
}

void weighted_row_sum(const float* rows, std::size_t stride, const float* w, int count, float* out,
                      std::size_t len) {
#ifdef MMB_RESIZE_AVX2
  if (have_avx2()) return weighted_row_sum_avx2(rows, stride, w, count, out, len);
#endif
  weighted_row_sum_portable(rows, stride, w, count, out, len);
}

namespace {

// ---------------------------------------------------------------------------
// Transposed stores

#if defined(__GNUC__) && defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define MMB_RESIZE_SHUFFLE 1
#endif
#endif

#ifdef MMB_RESIZE_SHUFFLE
// dst row j (j < 4) = column j of the 4x4 block at src: four loads, eight
// shuffles, four stores, where element-wise copying costs a scalar load and
// store per value. GCC/Clang vector extensions, no ISA-specific code.
inline void transpose_4x4(const float* src, std::size_t src_stride, float* dst, std::size_t dst_stride) {
  typedef float v4 __attribute__((vector_size(16)));
  v4 a, b, c, d;
  __builtin_memcpy(&a, src, sizeof a);
  __builtin_memcpy(&b, src + src_stride, sizeof b);
  __builtin_memcpy(&c, src + 2 * src_stride, sizeof c);
  __builtin_memcpy(&d, src + 3 * src_stride, sizeof d);
  const v4 ab_lo = __builtin_shufflevector(a, b, 0, 4, 1, 5), ab_hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
  const v4 cd_lo = __builtin_shufflevector(c, d, 0, 4, 1, 5), cd_hi = __builtin_shufflevector(c, d, 2, 6, 3, 7);
  const v4 r0 = __builtin_shufflevector(ab_lo, cd_lo, 0, 1, 4, 5), r1 = __builtin_shufflevector(ab_lo, cd_lo, 2, 3, 6, 7);
  const v4 r2 = __builtin_shufflevector(ab_hi, cd_hi, 0, 1, 4, 5), r3 = __builtin_shufflevector(ab_hi, cd_hi, 2, 3, 6, 7);
  __builtin_memcpy(dst, &r0, sizeof r0);
  __builtin_memcpy(dst + dst_stride, &r1, sizeof r1);
  __builtin_memcpy(dst + 2 * dst_stride, &r2, sizeof r2);
  __builtin_memcpy(dst + 3 * dst_stride, &r3, sizeof r3);
}
#endif

// Gray: pixel p of tile row t goes to out[p * out_stride + t].
void store_gray_tile_transposed(const float* tile, std::size_t rows, std::size_t pixels, float* out,
                                std::size_t out_stride) {
  std::size_t t0 = 0;
#ifdef MMB_RESIZE_SHUFFLE
  for (; t0 + 4 <= rows; t0 += 4) {
    std::size_t p = 0;
    for (; p + 4 <= pixels; p += 4)
      transpose_4x4(tile + t0 * kTileLen + p, kTileLen, out + p * out_stride + t0, out_stride);
    for (; p < pixels; ++p)
      for (std::size_t t = t0; t < t0 + 4; ++t) out[p * out_stride + t] = tile[t * kTileLen + p];
  }
#endif
  for (std::size_t t = t0; t < rows; ++t)
    for (std::size_t p = 0; p < pixels; ++p) out[p * out_stride + t] = tile[t * kTileLen + p];
}

// Pixel p (C floats) of tile row t goes to out[p * out_stride + t * C]. C is
// a template parameter so the channel loop is not a memcpy call per value.
template <std::size_t C>
void store_tile_transposed_c(const float* tile, std::size_t rows, std::size_t pixels, float* out,
                             std::size_t out_stride) {
  for (std::size_t p = 0; p < pixels; ++p, out += out_stride)
    for (std::size_t t = 0; t < rows; ++t)
      for (std::size_t ch = 0; ch < C; ++ch) out[t * C + ch] = tile[t * kTileLen + p * C + ch];
}

void store_tile_transposed(const float* tile, std::size_t rows, std::size_t pixels, std::size_t c, float* out,
                           std::size_t out_stride) {
  switch (c) {
    case 1: return store_gray_tile_transposed(tile, rows, pixels, out, out_stride);
    case 2: return store_tile_transposed_c<2>(tile, rows, pixels, out, out_stride);
    case 3: return store_tile_transposed_c<3>(tile, rows, pixels, out, out_stride);
    case 4: return store_tile_transposed_c<4>(tile, rows, pixels, out, out_stride);
  }
  for (std::size_t p = 0; p < pixels; ++p, out += out_stride)
    for (std::size_t t = 0; t < rows; ++t)
      for (std::size_t ch = 0; ch < c; ++ch) out[t * c + ch] = tile[t * kTileLen + p * c + ch];
}

// ---------------------------------------------------------------------------
// Passes

// Output rows of axis a, summed from `rows` (input rows `stride` apart, `len`
// floats used from each), stored transposed: element p*c + ch of output row i
// goes to dst[p * dst_stride + i * c + ch].
void axis_rows_transposed(const AxisWeights& a, const float* rows, std::size_t stride, std::size_t len,
                          std::size_t c, float* dst, std::size_t dst_stride) {
  float tile[kTileRows * kTileLen];
  const std::size_t n_out = a.n_out;
  const std::size_t step = kTileLen / c * c;  // whole pixels (c <= kMaxChannels)
  for (std::size_t e0 = 0; e0 < len; e0 += step) {
    const std::size_t te = std::min(step, len - e0);
    for (std::size_t i0 = 0; i0 < n_out; i0 += kTileRows) {
      const std::size_t ti = std::min(kTileRows, n_out - i0);
      for (std::size_t t = 0; t < ti; ++t) {
        const std::size_t i = i0 + t;
        weighted_row_sum(rows + a.first[i] * stride + e0, stride, a.weight.data() + a.offset[i], a.count[i],
                         tile + t * kTileLen, te);
      }
      store_tile_transposed(tile, ti, te / c, c, dst + (e0 / c) * dst_stride + i0 * c, dst_stride);
    }
  }
}

// Converts a strip of n_rows x wb values (rows row_len apart) to float, and
// widens `range` to the values seen: the spline's clip range comes free with
// this pass (a separate pass over a 1 MiB image cost 4% of the resize).
template <class T>
void load_strip(const T* in, std::size_t n_rows, std::size_t row_len, std::size_t wb, float* buf,
                std::size_t stride, ValueRange& range) {
  T lo = in[0], hi = in[0];
  for (std::size_t r = 0; r < n_rows; ++r) {
    const T* src = in + r * row_len;
    to_float(src, buf + r * stride, wb);
    for (std::size_t e = 0; e < wb; ++e) {  // vectorises for bytes
      lo = src[e] < lo ? src[e] : lo;
      hi = src[e] > hi ? src[e] : hi;
    }
  }
  range.lo = std::min(range.lo, static_cast<float>(lo));
  range.hi = std::max(range.hi, static_cast<float>(hi));
}

// Width of the strips of the y pass, in values: whole pixels, as wide as the
// cache budget allows (a whole row when the slice is small), but at least
// kMinStrip so tall images still get the kernel's widest block (a 2900-row
// strip of 64 floats is 740 KiB: still in L2).
std::size_t strip_width(std::size_t n_rows, std::size_t row_len, std::size_t channels) {
  constexpr std::size_t kMinStrip = 64;
  const std::size_t unit = 16 * channels;
  const std::size_t strip = kStripBytes / (n_rows * sizeof(float)) / unit * unit;
  return std::min(std::max(strip, (kMinStrip + unit - 1) / unit * unit), row_len);
}

// Passes 1 and 2 on one input slice (n_rows rows of row_len values) for all
// jobs; slice z's output plane goes to job.planes + z * job.plane_stride.
template <class T>
void resize_slice(const T* in, std::size_t z, std::size_t n_rows, std::size_t row_len, std::size_t strip,
                  float* buf, std::vector<ResizeJob>& jobs, ValueRange& range) {
  const std::size_t stride = padded_stride(strip), c = jobs.front().channels;
  for (std::size_t x0 = 0; x0 < row_len; x0 += strip) {
    const std::size_t wb = std::min(strip, row_len - x0);
    load_strip(in + x0, n_rows, row_len, wb, buf, stride, range);
    for (ResizeJob& job : jobs)
      axis_rows_transposed(*job.wy, buf, stride, wb, c, job.columns + (x0 / c) * job.column_stride,
                           job.column_stride);
  }
  // x: the identity weights are exact, so this also runs when x keeps its
  // size (it is then the transpose back).
  for (ResizeJob& job : jobs)
    axis_rows_transposed(*job.wx, job.columns, job.column_stride, static_cast<std::size_t>(job.out_h) * c, c,
                         job.planes + z * job.plane_stride, static_cast<std::size_t>(job.out_w) * c);
}

// Pass 3: z over the planes of all input slices.
void z_pass(const ResizeJob& job) {
  const AxisWeights& a = *job.wz;
  const std::size_t len = job.plane_values();
  for (int i = 0; i < a.n_out; ++i)
    weighted_row_sum(job.planes + a.first[i] * job.plane_stride, job.plane_stride, a.weight.data() + a.offset[i],
                     a.count[i], job.result + i * len, len);
}

// ---------------------------------------------------------------------------
// Memory

// Per-thread scratch memory for the strip and the jobs' buffers. Allocating
// them per call cost more than the arithmetic (glibc maps and unmaps blocks of
// this size, so every call page-faults them in again); reusing them keeps them
// warm. More than kKeepBytes is returned after the call that needed it.
class Scratch {
 public:
  static constexpr std::size_t kKeepBytes = 64u << 20;

  // Blocks of the given sizes (in floats), 64-byte aligned.
  std::vector<float*> take(const std::vector<std::size_t>& sizes) {
    std::size_t total = 0;
    for (std::size_t n : sizes) total += round_up(n);
    if (total > capacity_) {
      memory_ = std::make_unique_for_overwrite<float[]>(total + 16);
      capacity_ = total;
    }
    float* base = memory_.get();
    base += (16 - reinterpret_cast<std::uintptr_t>(base) / sizeof(float) % 16) % 16;
    std::vector<float*> blocks;
    for (std::size_t n : sizes) {
      blocks.push_back(base);
      base += round_up(n);
    }
    return blocks;
  }

  // Called when the results are no longer needed but before the next call.
  void trim() {
    if (capacity_ * sizeof(float) > kKeepBytes) {
      memory_.reset();
      capacity_ = 0;
    }
  }

 private:
  static std::size_t round_up(std::size_t n) { return (n + 15) / 16 * 16; }
  std::unique_ptr<float[]> memory_;
  std::size_t capacity_ = 0;
};

thread_local Scratch scratch;

// Lays out the strip buffer (block 0) and every job's buffers in scratch.
float* allocate(std::vector<ResizeJob>& jobs, std::size_t strip_values) {
  std::vector<std::size_t> sizes{strip_values};
  for (ResizeJob& job : jobs) {
    job.column_stride = padded_stride(static_cast<std::size_t>(job.out_h) * job.channels);
    // Without a z pass, x writes each plane straight into the result.
    job.plane_stride = job.resizes_depth() ? padded_stride(job.plane_values()) : job.plane_values();
    sizes.insert(sizes.end(), {job.in_w * job.column_stride,
                               job.resizes_depth() ? job.in_d * job.plane_stride : 0, job.out_values()});
  }
  const std::vector<float*> blocks = scratch.take(sizes);
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    jobs[j].columns = blocks[1 + 3 * j];
    jobs[j].result = blocks[3 + 3 * j];
    jobs[j].planes = jobs[j].resizes_depth() ? blocks[2 + 3 * j] : jobs[j].result;
  }
  return blocks[0];
}

}  // namespace

template <class T>
ValueRange run_resize_jobs(const T* input, std::vector<ResizeJob>& jobs) {
  scratch.trim();  // the previous call's results are dead by now
  if (jobs.empty()) return {0.f, 0.f};
  const ResizeJob& j0 = jobs.front();
  const std::size_t n_rows = j0.in_h, row_len = static_cast<std::size_t>(j0.in_w) * j0.channels;
  const std::size_t strip = strip_width(n_rows, row_len, j0.channels);
  float* strip_buf = allocate(jobs, n_rows * padded_stride(strip));

  ValueRange range{static_cast<float>(input[0]), static_cast<float>(input[0])};
  for (std::size_t z = 0; z < static_cast<std::size_t>(j0.in_d); ++z)
    resize_slice(input + z * n_rows * row_len, z, n_rows, row_len, strip, strip_buf, jobs, range);
  for (const ResizeJob& job : jobs)
    if (job.resizes_depth()) z_pass(job);
  return range;
}

template ValueRange run_resize_jobs<std::uint8_t>(const std::uint8_t*, std::vector<ResizeJob>&);
template ValueRange run_resize_jobs<float>(const float*, std::vector<ResizeJob>&);

}  // namespace mmb::resize_detail
