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

// Rows [row0, row0 + rows) of one slice, resampled along x into out (rows x out_w x C).
void horizontal(const std::uint8_t* in, int in_w, int channels, int row0, int rows, const PilAxis& ax,
                std::uint8_t* out) {
  const std::size_t in_stride = static_cast<std::size_t>(in_w) * channels;
  const std::size_t out_stride = static_cast<std::size_t>(ax.n_out) * channels;
  for (int y = 0; y < rows; ++y) {
    const std::uint8_t* src = in + (row0 + y) * in_stride;
    std::uint8_t* dst = out + y * out_stride;
    for (int xx = 0; xx < ax.n_out; ++xx) {
      const std::int32_t* k = &ax.coeff[static_cast<std::size_t>(xx) * ax.ksize];
      const std::uint8_t* p = src + static_cast<std::size_t>(ax.first[xx]) * channels;
      for (int c = 0; c < channels; ++c) {
        int ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < ax.count[xx]; ++x) ss += p[x * channels + c] * k[x];
        dst[xx * channels + c] = clip8(ss);
      }
    }
  }
}

// Resamples along y: in has rows of row_len bytes, the taps' first rows are
// shifted by -row0 (the rows the horizontal pass kept).
void vertical(const std::uint8_t* in, std::size_t row_len, int row0, const PilAxis& ay, std::uint8_t* out) {
  std::vector<int> acc(row_len);
  for (int yy = 0; yy < ay.n_out; ++yy) {
    const std::int32_t* k = &ay.coeff[static_cast<std::size_t>(yy) * ay.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < ay.count[yy]; ++y) {
      const std::uint8_t* src = in + static_cast<std::size_t>(ay.first[yy] - row0 + y) * row_len;
      const int w = k[y];
      for (std::size_t i = 0; i < row_len; ++i) acc[i] += src[i] * w;
    }
    std::uint8_t* dst = out + yy * row_len;
    for (std::size_t i = 0; i < row_len; ++i) dst[i] = clip8(acc[i]);
  }
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

Image pil_resize(const Image& in, int out_w, int out_h, PilFilter filter) {
  if (in.width < 1 || in.height < 1 || in.depth < 1 || in.channels < 1 || in.pixels.size() != in.byte_size())
    throw std::invalid_argument("pil resize: input is empty or its pixel buffer does not match its size");
  if (out_w < 1 || out_h < 1) throw std::invalid_argument("pil resize: output size must be >= 1");
  if (out_w == in.width && out_h == in.height) return in;  // Image.resize returns a copy
  Image out(out_w, out_h, in.depth, in.channels);
  const std::size_t in_plane = static_cast<std::size_t>(in.width) * in.height * in.channels;
  const std::size_t out_plane = static_cast<std::size_t>(out_w) * out_h * in.channels;
  if (filter == PilFilter::Nearest) {
    for (int z = 0; z < in.depth; ++z)
      pil_detail::nearest_slice(in.pixels.data() + z * in_plane, in.width, in.height, in.channels, out_w, out_h,
                                out.pixels.data() + z * out_plane);
    return out;
  }
  const bool need_h = out_w != in.width, need_v = out_h != in.height;
  const auto ay = pil_detail::pil_axis(in.height, out_h, filter);
  // Pillow's horizontal pass only produces the rows the vertical taps read.
  const int row0 = need_v ? ay->first.front() : 0;
  const int row1 = need_v ? ay->first.back() + ay->count.back() : in.height;
  std::vector<std::uint8_t> temp;
  for (int z = 0; z < in.depth; ++z) {
    const std::uint8_t* src = in.pixels.data() + z * in_plane;
    std::uint8_t* dst = out.pixels.data() + z * out_plane;
    if (!need_h) {
      pil_detail::vertical(src, static_cast<std::size_t>(in.width) * in.channels, 0, *ay, dst);
      continue;
    }
    const auto ax = pil_detail::pil_axis(in.width, out_w, filter);
    const std::size_t row_len = static_cast<std::size_t>(out_w) * in.channels;
    if (!need_v) {
      pil_detail::horizontal(src, in.width, in.channels, 0, in.height, *ax, dst);
      continue;
    }
    temp.resize(static_cast<std::size_t>(row1 - row0) * row_len);
    pil_detail::horizontal(src, in.width, in.channels, row0, row1 - row0, *ax, temp.data());
    pil_detail::vertical(temp.data(), row_len, row0, *ay, dst);
  }
  return out;
}

}  // namespace mmb
