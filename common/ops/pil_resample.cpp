// Pillow's 8-bit resampling (see pil_resample.h). Every floating-point
// expression keeps Pillow's operand order and types: the coefficients are
// computed in double exactly as precompute_coeffs does, so their 22-bit
// fixed-point values, and therefore the output bytes, are the same. This file
// is compiled with -ffp-contract=off (common/CMakeLists.txt) so that a build
// for an FMA-capable -march cannot fuse those products and change a rounding.
#include "common/ops/pil_resample.h"

#include <algorithm>
#include <cmath>
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
// arithmetic, so the AVX2 clone gives the same bytes as the baseline one.
__attribute__((target("avx2"))) void accumulate_avx2(int* acc, const std::uint8_t* src, int w, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) acc[i] += src[i] * w;
}
void accumulate_portable(int* acc, const std::uint8_t* src, int w, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) acc[i] += src[i] * w;
}
void accumulate(int* acc, const std::uint8_t* src, int w, std::size_t n) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) accumulate_avx2(acc, src, w, n);
  else accumulate_portable(acc, src, w, n);
}

// One pass along the row axis of `in`: output row i (len bytes, at out + i *
// out_stride) = clip8(2^21 + sum_k coeff[i][k] * input row (first[i] - shift + k)).
// Every output byte is Pillow's ss0 for one pixel and band: the same integer
// sum, only computed for a whole row at once.
void convolve_rows(const std::uint8_t* in, std::size_t in_stride, std::size_t len, int shift, const PilAxis& a,
                   std::uint8_t* out, std::size_t out_stride) {
  std::vector<int> acc(len);
  for (int i = 0; i < a.n_out; ++i) {
    const std::int32_t* k = &a.coeff[static_cast<std::size_t>(i) * a.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int t = 0; t < a.count[i]; ++t)
      accumulate(acc.data(), in + static_cast<std::size_t>(a.first[i] - shift + t) * in_stride, k[t], len);
    std::uint8_t* dst = out + static_cast<std::size_t>(i) * out_stride;
    for (std::size_t j = 0; j < len; ++j) dst[j] = clip8(acc[j]);
  }
}

// dst[x][y * C + c] = src[y][x * C + c] for a w x h image of C channels, in cache-sized tiles.
void transpose_pixels(const std::uint8_t* src, int w, int h, int channels, std::uint8_t* dst) {
  constexpr int kTile = 32;
  const std::size_t src_row = static_cast<std::size_t>(w) * channels, dst_row = static_cast<std::size_t>(h) * channels;
  for (int y0 = 0; y0 < h; y0 += kTile)
    for (int x0 = 0; x0 < w; x0 += kTile)
      for (int y = y0; y < std::min(h, y0 + kTile); ++y)
        for (int x = x0; x < std::min(w, x0 + kTile); ++x)
          for (int c = 0; c < channels; ++c)
            dst[x * dst_row + static_cast<std::size_t>(y) * channels + c] = src[y * src_row + static_cast<std::size_t>(x) * channels + c];
}

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
