// Pillow's 8-bit resampling (see pil_resample.h). Every floating-point
// expression keeps Pillow's operand order and types: the coefficients are
// computed in double exactly as precompute_coeffs does, so their 22-bit
// fixed-point values, and therefore the output bytes, are the same. This file
// is compiled with -ffp-contract=off (common/CMakeLists.txt) so that a build
// for an FMA-capable -march cannot fuse those products and change a rounding.
#include "common/ops/pil_resample.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

namespace mmb {
namespace pil_detail {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS
constexpr double kPi = 3.14159265358979323846;

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * kPi;
  return std::sin(x) / x;
}

// Pillow's filter supports (in output-pixel units before stretching).
double support_of(PilFilter f) {
  switch (f) {
    case PilFilter::Box: return 0.5;
    case PilFilter::Bilinear: return 1.0;
    case PilFilter::Hamming: return 1.0;
    case PilFilter::Bicubic: return 2.0;
    case PilFilter::Lanczos: return 3.0;
    case PilFilter::Nearest: break;
  }
  throw std::invalid_argument("pil resample: NEAREST has no convolution filter");
}

// Truncating conversion as C's (int) cast, which Pillow uses for rounding.
int to_int(double v) { return static_cast<int>(v); }

// The 8-bit clamp of Pillow's clip8: arithmetic shift, then 0..255.
inline std::uint8_t clip8(int v) {
  const int s = v >> kPrecisionBits;
  return static_cast<std::uint8_t>(s < 0 ? 0 : (s > 255 ? 255 : s));
}

PilAxis build_axis(int n_in, int n_out, PilFilter filter) {
  const double support_1 = support_of(filter);
  // Pillow takes (double)(box1 - box0) / outSize with a float box of (0, n_in).
  const double scale = static_cast<double>(static_cast<float>(n_in) - 0.0f) / n_out;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = support_1 * filterscale;
  PilAxis a;
  a.n_in = n_in;
  a.n_out = n_out;
  a.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  a.first.resize(n_out);
  a.count.resize(n_out);
  a.coeff.assign(static_cast<std::size_t>(n_out) * a.ksize, 0);
  std::vector<double> k(a.ksize);
  for (int xx = 0; xx < n_out; ++xx) {
    const double center = 0.0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = to_int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = to_int(center + support + 0.5);
    if (xmax > n_in) xmax = n_in;
    xmax -= xmin;
    double ww = 0.0;
    std::fill(k.begin(), k.end(), 0.0);
    for (int x = 0; x < xmax; ++x) {
      const double w = pil_filter_value(filter, (x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    // normalize_coeffs_8bpc: round half away from zero to 22 fractional bits.
    for (int x = 0; x < a.ksize; ++x) {
      const double v = k[x];
      a.coeff[static_cast<std::size_t>(xx) * a.ksize + x] =
          v < 0 ? to_int(-0.5 + v * (1 << kPrecisionBits)) : to_int(0.5 + v * (1 << kPrecisionBits));
    }
    a.first[xx] = xmin;
    a.count[xx] = xmax;
  }
  return a;
}

// acc[i] += src[i] * w: the inner loop of both passes, on whole rows. Integer
// arithmetic, so the AVX2 path below gives the same bytes as this one.
void accumulate(int* acc, const std::uint8_t* src, int w, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) acc[i] += src[i] * w;
}

// Output row i of convolve_rows, one row at a time: whole-row accumulation.
void convolve_row_portable(const std::uint8_t* in, std::size_t in_stride, std::size_t len, int first,
                           const std::int32_t* k, int count, int* acc, std::uint8_t* dst) {
  std::fill(acc, acc + len, 1 << (kPrecisionBits - 1));
  for (int t = 0; t < count; ++t) accumulate(acc, in + static_cast<std::size_t>(first + t) * in_stride, k[t], len);
  for (std::size_t j = 0; j < len; ++j) dst[j] = clip8(acc[j]);
}

// The same sums with AVX2, 16 columns at a time: all taps are added into two
// registers before the row is rounded and stored, so the partial sums never
// go through memory (the whole-row loop loads and stores them once per tap).
// Integer adds in another order give the same sums.
__attribute__((target("avx2"))) void convolve_row_avx2(const std::uint8_t* in, std::size_t in_stride,
                                                       std::size_t len, int first, const std::int32_t* k, int count,
                                                       int* acc, std::uint8_t* dst) {
  const __m256i init = _mm256_set1_epi32(1 << (kPrecisionBits - 1));
  const std::uint8_t* rows = in + static_cast<std::size_t>(first) * in_stride;
  std::size_t j = 0;
  for (; j + 16 <= len; j += 16) {
    __m256i lo = init, hi = init;
    const std::uint8_t* s = rows + j;
    for (int t = 0; t < count; ++t, s += in_stride) {
      const __m256i w = _mm256_set1_epi32(k[t]);
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
      lo = _mm256_add_epi32(lo, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(bytes), w));
      hi = _mm256_add_epi32(hi, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8)), w));
    }
    // clip8: arithmetic shift, then saturate to 0..255 (signed 16-bit, then unsigned 8-bit).
    lo = _mm256_srai_epi32(lo, kPrecisionBits);
    hi = _mm256_srai_epi32(hi, kPrecisionBits);
    const __m128i w16_lo = _mm_packs_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1));
    const __m128i w16_hi = _mm_packs_epi32(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j), _mm_packus_epi16(w16_lo, w16_hi));
  }
  if (j < len) convolve_row_portable(rows + j, in_stride, len - j, 0, k, count, acc, dst + j);
}

// One pass along the row axis of `in`: output row i (len bytes, at out + i *
// out_stride) = clip8(2^21 + sum_k coeff[i][k] * input row (first[i] - shift + k)).
// Every output byte is Pillow's ss0 for one pixel and band: the same integer
// sum, only computed for many pixels at once.
void convolve_rows(const std::uint8_t* in, std::size_t in_stride, std::size_t len, int shift, const PilAxis& a,
                   std::uint8_t* out, std::size_t out_stride) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  std::vector<int> acc(len);
  for (int i = 0; i < a.n_out; ++i) {
    const std::int32_t* k = &a.coeff[static_cast<std::size_t>(i) * a.ksize];
    std::uint8_t* dst = out + static_cast<std::size_t>(i) * out_stride;
    if (avx2) convolve_row_avx2(in, in_stride, len, a.first[i] - shift, k, a.count[i], acc.data(), dst);
    else convolve_row_portable(in, in_stride, len, a.first[i] - shift, k, a.count[i], acc.data(), dst);
  }
}

// The tile [x0, x1) x [y0, y1) of transpose_pixels, C channels known at compile time (0: any).
template <int C>
void transpose_tile(const std::uint8_t* src, int x0, int x1, int y0, int y1, int channels, std::size_t src_row,
                    std::size_t dst_row, std::uint8_t* dst) {
  const int c_n = C ? C : channels;
  for (int y = y0; y < y1; ++y) {
    const std::uint8_t* s = src + y * src_row + static_cast<std::size_t>(x0) * c_n;
    std::uint8_t* d = dst + static_cast<std::size_t>(x0) * dst_row + static_cast<std::size_t>(y) * c_n;
    for (int x = x0; x < x1; ++x, s += c_n, d += dst_row)
      for (int c = 0; c < c_n; ++c) d[c] = s[c];
  }
}

// transpose_tile<3> with one 4-byte move per pixel instead of three 1-byte
// ones. The move reads one byte past the pixel (the next pixel, or the first
// byte of the next row) and writes one byte past it, into the slot of pixel
// (x, y + 1) of the same output row, which is written after it because rows
// are visited in increasing y. So it is only used when y + 1 < h: the tile's
// rows all have a successor, and the last image row takes the 3-byte path.
void transpose_tile_rgb(const std::uint8_t* src, int x0, int x1, int y0, int y1, std::size_t src_row,
                        std::size_t dst_row, std::uint8_t* dst) {
  for (int y = y0; y < y1; ++y) {
    const std::uint8_t* s = src + y * src_row + static_cast<std::size_t>(x0) * 3;
    std::uint8_t* d = dst + static_cast<std::size_t>(x0) * dst_row + static_cast<std::size_t>(y) * 3;
    for (int x = x0; x < x1; ++x, s += 3, d += dst_row) {
      std::uint32_t v;
      std::memcpy(&v, s, 4);
      std::memcpy(d, &v, 4);
    }
  }
}

#if defined(__SSE2__)
// One 16 x 16 block of a 1-channel image: rows src, src + src_row, ... become
// columns of dst. Four rounds of interleaving (8-, 16-, 32-, 64-bit units),
// each pairing the halves that the next round keeps together.
void transpose_16x16(const std::uint8_t* src, std::size_t src_row, std::uint8_t* dst, std::size_t dst_row) {
  __m128i r[16], a[16], b[16], c[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * src_row));
  // a[i] (i < 8): columns 0..7 of rows 2i, 2i+1; a[8 + i]: columns 8..15.
  for (int i = 0; i < 8; ++i) {
    a[i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    a[8 + i] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
  // b[4g + i]: columns 4g..4g+3 of rows 4i..4i+3.
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 4; ++i) {
      b[8 * h + i] = _mm_unpacklo_epi16(a[8 * h + 2 * i], a[8 * h + 2 * i + 1]);
      b[8 * h + 4 + i] = _mm_unpackhi_epi16(a[8 * h + 2 * i], a[8 * h + 2 * i + 1]);
    }
  // c[4g + 2m + q]: columns 4g + 2q and 4g + 2q + 1 of rows 8m..8m+7.
  for (int g = 0; g < 4; ++g)
    for (int m = 0; m < 2; ++m) {
      c[4 * g + 2 * m] = _mm_unpacklo_epi32(b[4 * g + 2 * m], b[4 * g + 2 * m + 1]);
      c[4 * g + 2 * m + 1] = _mm_unpackhi_epi32(b[4 * g + 2 * m], b[4 * g + 2 * m + 1]);
    }
  // Column 4g + 2q (+1) = rows 0..7 from c[4g + q], rows 8..15 from c[4g + 2 + q].
  for (int g = 0; g < 4; ++g)
    for (int q = 0; q < 2; ++q) {
      const __m128i lo = c[4 * g + q], hi = c[4 * g + 2 + q];
      const int x = 4 * g + 2 * q;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + x * dst_row), _mm_unpacklo_epi64(lo, hi));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (x + 1) * dst_row), _mm_unpackhi_epi64(lo, hi));
    }
}
#endif

}  // namespace

// dst[x][y * C + c] = src[y][x * C + c] for a w x h image of C channels, in
// cache-sized tiles; 16 x 16 blocks of 1-channel images with SSE2.
void transpose_pixels(const std::uint8_t* src, int w, int h, int channels, std::uint8_t* dst) {
  constexpr int kTile = 32;
  const std::size_t src_row = static_cast<std::size_t>(w) * channels, dst_row = static_cast<std::size_t>(h) * channels;
  for (int y0 = 0; y0 < h; y0 += kTile)
    for (int x0 = 0; x0 < w; x0 += kTile) {
      const int y1 = std::min(h, y0 + kTile), x1 = std::min(w, x0 + kTile);
#if defined(__SSE2__)
      if (channels == 1 && y1 - y0 == kTile && x1 - x0 == kTile) {
        for (int y = y0; y < y1; y += 16)
          for (int x = x0; x < x1; x += 16) transpose_16x16(src + y * src_row + x, src_row, dst + x * dst_row + y, dst_row);
        continue;
      }
#endif
      if (channels == 3 && y1 < h) {  // every row of the tile has a row after it
        transpose_tile_rgb(src, x0, x1, y0, y1, src_row, dst_row, dst);
        continue;
      }
      switch (channels) {
        case 1: transpose_tile<1>(src, x0, x1, y0, y1, channels, src_row, dst_row, dst); break;
        case 3: transpose_tile<3>(src, x0, x1, y0, y1, channels, src_row, dst_row, dst); break;
        case 4: transpose_tile<4>(src, x0, x1, y0, y1, channels, src_row, dst_row, dst); break;
        default: transpose_tile<0>(src, x0, x1, y0, y1, channels, src_row, dst_row, dst);
      }
    }
}

namespace {

// Geometry.c's ImagingScaleAffine for a = (n_in / n_out, 0, 0; 0, ..., 0):
// positions accumulate in double from 0.5 * step; COORD truncates.
std::vector<int> nearest_index(int n_in, int n_out) {
  const double step = static_cast<double>(static_cast<float>(n_in) - 0.0f) / n_out;
  std::vector<int> idx(n_out);
  double pos = 0.0 + step * 0.5;
  for (int i = 0; i < n_out; ++i) {
    const int v = pos < 0.0 ? -1 : static_cast<int>(pos);
    idx[i] = v >= 0 && v < n_in ? v : -1;  // -1: Pillow leaves the fill value 0
    pos += step;
  }
  return idx;
}

void nearest_slice(const std::uint8_t* in, int in_w, int in_h, int channels, int out_w, int out_h,
                   std::uint8_t* out) {
  const auto xs = nearest_index(in_w, out_w), ys = nearest_index(in_h, out_h);
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x)
      for (int c = 0; c < channels; ++c)
        out[(static_cast<std::size_t>(y) * out_w + x) * channels + c] =
            ys[y] < 0 || xs[x] < 0 ? 0 : in[(static_cast<std::size_t>(ys[y]) * in_w + xs[x]) * channels + c];
}

}  // namespace

double pil_filter_value(PilFilter filter, double x) {
  switch (filter) {
    case PilFilter::Box: return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
    case PilFilter::Bilinear:
      if (x < 0.0) x = -x;
      return x < 1.0 ? 1.0 - x : 0.0;
    case PilFilter::Hamming:
      if (x < 0.0) x = -x;
      if (x == 0.0) return 1.0;
      if (x >= 1.0) return 0.0;
      x = x * kPi;
      // Pillow writes the constants as floats: 0.54f and 0.46f.
      return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
    case PilFilter::Bicubic: {
      constexpr double a = -0.5;  // Pillow's Keys parameter
      if (x < 0.0) x = -x;
      if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
      return 0.0;
    }
    case PilFilter::Lanczos:
      return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
    case PilFilter::Nearest: break;
  }
  throw std::invalid_argument("pil resample: NEAREST has no convolution filter");
}

std::shared_ptr<const PilAxis> pil_axis(int n_in, int n_out, PilFilter filter) {
  using Key = std::tuple<int, int, PilFilter>;
  static std::mutex mutex;
  static std::map<Key, std::shared_ptr<const PilAxis>> cache;
  const Key key{n_in, n_out, filter};
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto built = std::make_shared<const PilAxis>(build_axis(n_in, n_out, filter));
  std::lock_guard lock(mutex);
  return cache.emplace(key, std::move(built)).first->second;
}

}  // namespace pil_detail

namespace {

void check_pil_input(const Image& in) {
  if (in.width < 1 || in.height < 1 || in.depth < 1 || in.channels < 1 || in.pixels.size() != in.byte_size())
    throw std::invalid_argument("pil resize: input is empty or its pixel buffer does not match its size");
}

// One slice to one output size. `columns` is the slice transposed (in_w rows
// of in_h * C bytes), shared by all output sizes: on it the horizontal pass
// runs along rows, like the vertical one, instead of gathering taps inside a row.
void resize_slice(const std::uint8_t* src, const std::uint8_t* columns, int in_w, int in_h, int channels, int out_w,
                  int out_h, PilFilter filter, std::uint8_t* dst) {
  using namespace pil_detail;
  const bool need_h = out_w != in_w, need_v = out_h != in_h;
  const std::size_t in_row = static_cast<std::size_t>(in_w) * channels, out_row = static_cast<std::size_t>(out_w) * channels;
  const auto ay = pil_axis(in_h, out_h, filter);
  if (!need_h) return convolve_rows(src, in_row, in_row, 0, *ay, dst, out_row);
  // Pillow's horizontal pass produces only the rows the vertical taps read.
  const int row0 = need_v ? ay->first.front() : 0;
  const int row1 = need_v ? ay->first.back() + ay->count.back() : in_h;
  const std::size_t rows_len = static_cast<std::size_t>(row1 - row0) * channels;
  const auto ax = pil_axis(in_w, out_w, filter);
  std::vector<std::uint8_t> h_columns(static_cast<std::size_t>(out_w) * rows_len);  // out_w rows of rows_len
  convolve_rows(columns + static_cast<std::size_t>(row0) * channels, static_cast<std::size_t>(in_h) * channels, rows_len, 0,
                *ax, h_columns.data(), rows_len);
  std::vector<std::uint8_t> temp(static_cast<std::size_t>(row1 - row0) * out_row);
  transpose_pixels(h_columns.data(), row1 - row0, out_w, channels, temp.data());
  if (!need_v) {
    std::copy(temp.begin(), temp.end(), dst);
    return;
  }
  convolve_rows(temp.data(), out_row, out_row, row0, *ay, dst, out_row);
}

}  // namespace

std::vector<Image> pil_resize_to_sizes(const Image& in, const std::vector<std::pair<int, int>>& sizes, PilFilter filter) {
  check_pil_input(in);
  for (const auto& [w, h] : sizes)
    if (w < 1 || h < 1) throw std::invalid_argument("pil resize: output size must be >= 1");
  std::vector<Image> out;
  for (const auto& [w, h] : sizes) out.emplace_back(w, h, in.depth, in.channels);
  const std::size_t in_plane = static_cast<std::size_t>(in.width) * in.height * in.channels;
  std::vector<std::uint8_t> columns;
  for (int z = 0; z < in.depth; ++z) {
    const std::uint8_t* src = in.pixels.data() + z * in_plane;
    columns.clear();
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const auto [w, h] = sizes[i];
      std::uint8_t* dst = out[i].pixels.data() + z * (static_cast<std::size_t>(w) * h * in.channels);
      if (w == in.width && h == in.height) {  // Image.resize returns a copy
        std::copy(src, src + in_plane, dst);
      } else if (filter == PilFilter::Nearest) {
        pil_detail::nearest_slice(src, in.width, in.height, in.channels, w, h, dst);
      } else {
        if (w != in.width && columns.empty()) {
          columns.resize(in_plane);
          pil_detail::transpose_pixels(src, in.width, in.height, in.channels, columns.data());
        }
        resize_slice(src, columns.data(), in.width, in.height, in.channels, w, h, filter, dst);
      }
    }
  }
  return out;
}

Image pil_resize(const Image& in, int out_w, int out_h, PilFilter filter) {
  return std::move(pil_resize_to_sizes(in, {{out_w, out_h}}, filter).front());
}

}  // namespace mmb
