// ROI resampling on a padded sub-block (the recipe and the padding argument
// are in roi_resample.h): geometry -> sub-block copy -> Gaussian (axes that
// shrink) -> cubic B-spline prefilter -> separable 4-tap sampling -> fill.
#include "common/ops/roi_resample.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/ops/spline_kernels.h"

namespace mmb {
namespace {

using Matrix3 = std::array<double, 9>;
using Point = std::array<double, 3>;

// ---------------------------------------------------------------------------
// Geometry

Matrix3 direction_times_spacing(const Volume& v) {
  Matrix3 m{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) m[3 * r + c] = v.direction[3 * r + c] * v.spacing[c];
  return m;
}

double determinant(const Matrix3& m) {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
         m[2] * (m[3] * m[7] - m[4] * m[6]);
}

Matrix3 inverse(const Matrix3& m) {
  const double det = determinant(m);
  Matrix3 inv{};
  inv[0] = (m[4] * m[8] - m[5] * m[7]) / det;
  inv[1] = (m[2] * m[7] - m[1] * m[8]) / det;
  inv[2] = (m[1] * m[5] - m[2] * m[4]) / det;
  inv[3] = (m[5] * m[6] - m[3] * m[8]) / det;
  inv[4] = (m[0] * m[8] - m[2] * m[6]) / det;
  inv[5] = (m[2] * m[3] - m[0] * m[5]) / det;
  inv[6] = (m[3] * m[7] - m[4] * m[6]) / det;
  inv[7] = (m[1] * m[6] - m[0] * m[7]) / det;
  inv[8] = (m[0] * m[4] - m[1] * m[3]) / det;
  return inv;
}

void check_volume(const Volume& v) {
  for (int a = 0; a < 3; ++a) {
    if (v.size[a] < 1) throw std::invalid_argument("resample_roi: empty volume");
    if (!(v.spacing[a] > 0) || !std::isfinite(v.spacing[a]))
      throw std::invalid_argument("resample_roi: spacing must be positive and finite");
  }
  if (v.voxels.size() != v.count()) throw std::invalid_argument("resample_roi: voxel buffer does not match the size");
  // det(D) is scale-free (unit direction columns), unlike det(D * spacing).
  const double det = determinant(v.direction);
  if (!std::isfinite(det) || std::abs(det) < 1e-6)
    throw std::invalid_argument("resample_roi: the direction matrix is singular");
}

void check_request(const RoiRequest& r) {
  for (int a = 0; a < 3; ++a) {
    if (r.out_size[a] < 1) throw std::invalid_argument("resample_roi: output size must be >= 1 on every axis");
    if (!(r.size_mm[a] > 0) || !std::isfinite(r.size_mm[a]))
      throw std::invalid_argument("resample_roi: box size must be positive and finite");
    if (!std::isfinite(r.centre_mm[a])) throw std::invalid_argument("resample_roi: centre is not finite");
  }
}

// Continuous index x = (D * diag(spacing))^-1 * (p - origin).
Point continuous_index(const Volume& v, const Point& p) {
  const Matrix3 inv = inverse(direction_times_spacing(v));
  Point x{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) x[r] += inv[3 * r + c] * (p[c] - v.origin[c]);
  return x;
}

// One axis of the output grid, in the volume's continuous index space.
struct AxisGrid {
  int n_in = 0, n_out = 0;
  double first = 0, step = 0;  // index of output voxel 0, and per output voxel
  double sigma = 0;            // anti-aliasing Gaussian (input voxels), 0 = none
  int radius = 0;
  int inside_first = 0, inside_count = 0;  // outputs inside [-0.5, n_in - 0.5]

  double x(int t) const { return first + step * t; }
};

AxisGrid make_axis(const Volume& v, const RoiRequest& r, const Point& centre_index, int a) {
  AxisGrid g;
  g.n_in = v.size[a];
  g.n_out = r.out_size[a];
  g.step = r.size_mm[a] / (r.out_size[a] * v.spacing[a]);
  g.first = centre_index[a] - g.step * (g.n_out - 1) / 2.0;  // (t + 0.5)/n - 0.5 of the box
  if (r.anti_alias && g.step > 1.0) {
    g.sigma = (g.step - 1.0) / 2.0;
    g.radius = gaussian_radius(g.sigma);  // scipy's truncate = 4.0
  }
  int last = -1;
  g.inside_first = g.n_out;
  for (int t = 0; t < g.n_out; ++t) {
    const double x = g.x(t);
    if (x < -0.5 || x > g.n_in - 0.5) continue;
    g.inside_first = std::min(g.inside_first, t);
    last = t;
  }
  g.inside_count = last >= g.inside_first ? last - g.inside_first + 1 : 0;
  return g;
}

// ---------------------------------------------------------------------------
// Sampling taps: output t = sum_k weight[t][k] * signal[index[t][k]]

constexpr int kMaxTaps = 4;

struct Taps {
  int count = 0;  // taps per output
  std::vector<int> index;       // volume indices, folded into [0, n_in)
  std::vector<double> weight;   // inside outputs only, kMaxTaps per output
};

Taps make_taps(const AxisGrid& g, RoiInterpolation interpolation) {
  Taps taps;
  taps.count = interpolation == RoiInterpolation::CubicBSpline ? 4 : interpolation == RoiInterpolation::Linear ? 2 : 1;
  taps.index.assign(static_cast<std::size_t>(g.inside_count) * kMaxTaps, 0);
  taps.weight.assign(taps.index.size(), 0.0);
  for (int o = 0; o < g.inside_count; ++o) {
    const double x = g.x(g.inside_first + o);
    const double f = std::floor(x);
    int* idx = &taps.index[o * kMaxTaps];
    double* w = &taps.weight[o * kMaxTaps];
    if (interpolation == RoiInterpolation::CubicBSpline) {
      cubic_bspline_weights(x - f, w);
      for (int k = 0; k < 4; ++k) idx[k] = fold_index(static_cast<long long>(f) - 1 + k, g.n_in);
    } else if (interpolation == RoiInterpolation::Linear) {
      w[0] = 1.0 - (x - f), w[1] = x - f;
      for (int k = 0; k < 2; ++k) idx[k] = fold_index(static_cast<long long>(f) + k, g.n_in);
    } else {
      w[0] = 1.0;
      idx[0] = std::clamp(static_cast<int>(std::floor(x + 0.5)), 0, g.n_in - 1);
    }
  }
  return taps;
}

// The sub-block along one axis: every tap, widened by the prefilter pad and
// the Gaussian radius, clipped to the volume.
std::pair<int, int> block_range(const AxisGrid& g, const Taps& taps, RoiInterpolation interpolation) {
  int lo = g.n_in, hi = -1;
  for (int o = 0; o < g.inside_count; ++o)
    for (int k = 0; k < taps.count; ++k) {
      lo = std::min(lo, taps.index[o * kMaxTaps + k]);
      hi = std::max(hi, taps.index[o * kMaxTaps + k]);
    }
  const int pad = (interpolation == RoiInterpolation::CubicBSpline ? kPrefilterPad : 0) + g.radius;
  return {std::max(0, lo - pad), std::min(g.n_in - 1, hi + pad)};
}

// ---------------------------------------------------------------------------
// The sub-block and per-axis filters on it

struct Block {
  std::array<int, 3> first{}, size{};
  std::vector<float> data;  // x fastest
  std::size_t stride(int axis) const {
    return axis == 0 ? 1 : axis == 1 ? static_cast<std::size_t>(size[0]) : static_cast<std::size_t>(size[0]) * size[1];
  }
};

Block copy_block(const Volume& v, const IndexBox& box) {
  Block b{box.first, box.size, {}};
  b.data.resize(static_cast<std::size_t>(box.size[0]) * box.size[1] * box.size[2]);
  float* out = b.data.data();
  for (int k = 0; k < box.size[2]; ++k)
    for (int j = 0; j < box.size[1]; ++j) {
      const float* row = &v.voxels[v.index(box.first[0], box.first[1] + j, box.first[2] + k)];
      out = std::copy(row, row + box.size[0], out);
    }
  return b;
}

// Runs filter(lines, n, width) on every group of up to kGroup parallel signals
// along `axis`: values are gathered into lines[m * width + w] (double),
// filtered in place and written back. Grouping neighbouring signals makes the
// strided axes (j, k) run over contiguous memory.
constexpr std::size_t kGroup = 64;

template <class Filter>
void for_each_line_group(Block& b, int axis, Filter filter) {
  const int n = b.size[axis];
  const std::size_t stride = b.stride(axis);
  const std::size_t outer = b.data.size() / (stride * n);
  std::vector<double> lines(static_cast<std::size_t>(n) * kGroup);
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t inner = 0; inner < stride; inner += kGroup) {
      const std::size_t width = std::min(kGroup, stride - inner);
      float* base = b.data.data() + o * stride * n + inner;
      for (int m = 0; m < n; ++m)
        for (std::size_t w = 0; w < width; ++w) lines[m * width + w] = base[m * stride + w];
      filter(lines.data(), n, width);
      for (int m = 0; m < n; ++m)
        for (std::size_t w = 0; w < width; ++w) base[m * stride + w] = static_cast<float>(lines[m * width + w]);
    }
}

void gaussian_along(Block& b, int axis, double sigma, int radius) {
  const std::vector<double> g = gaussian_kernel(sigma, radius);
  std::vector<double> out;
  for_each_line_group(b, axis, [&](double* lines, int n, std::size_t width) {
    out.assign(static_cast<std::size_t>(n) * width, 0.0);
    for (int m = 0; m < n; ++m)
      for (int t = -radius; t <= radius; ++t) {
        const double* src = lines + static_cast<std::size_t>(fold_index(m + t, n)) * width;
        double* dst = out.data() + static_cast<std::size_t>(m) * width;
        for (std::size_t w = 0; w < width; ++w) dst[w] += g[t + radius] * src[w];
      }
    std::copy(out.begin(), out.end(), lines);
  });
}

// Cubic B-spline interpolation coefficients: Unser's recursive filter with
// scipy's exact 'mirror' initialisation (ndimage/src/ni_splines.c).
void bspline_prefilter_along(Block& b, int axis) {
  const double z = std::sqrt(3.0) - 2.0;
  const double gain = (1.0 - z) * (1.0 - 1.0 / z);  // 6
  std::vector<double> c0;
  for_each_line_group(b, axis, [&](double* c, int n, std::size_t width) {
    if (n == 1) return;
    auto at = [&](int m) { return c + static_cast<std::size_t>(m) * width; };
    for (std::size_t i = 0; i < static_cast<std::size_t>(n) * width; ++i) c[i] *= gain;
    // Causal initialisation: c[0] = sum over the mirrored signal of z^|m| c[m],
    // cut where z^m < 1e-15 (double precision; scipy sums every term).
    const double z_n1 = std::pow(z, n - 1);
    c0.assign(at(0), at(0) + width);
    for (std::size_t w = 0; w < width; ++w) c0[w] += z_n1 * at(n - 1)[w];
    double z_m = z;
    for (int m = 1; m < n - 1 && std::abs(z_m) > 1e-15; ++m, z_m *= z)
      for (std::size_t w = 0; w < width; ++w) c0[w] += z_m * (at(m)[w] + z_n1 * at(n - 1 - m)[w]);
    for (std::size_t w = 0; w < width; ++w) at(0)[w] = c0[w] / (1.0 - z_n1 * z_n1);
    for (int m = 1; m < n; ++m)
      for (std::size_t w = 0; w < width; ++w) at(m)[w] += z * at(m - 1)[w];
    for (std::size_t w = 0; w < width; ++w) at(n - 1)[w] = (z * at(n - 2)[w] + at(n - 1)[w]) * z / (z * z - 1.0);
    for (int m = n - 2; m >= 0; --m)
      for (std::size_t w = 0; w < width; ++w) at(m)[w] = z * (at(m + 1)[w] - at(m)[w]);
  });
}

// ---------------------------------------------------------------------------
// Separable sampling of the inside sub-box: i, then j, then k.

struct Grid3 {
  std::array<AxisGrid, 3> axes;
  std::array<Taps, 3> taps;
};

// The block-relative range of the taps along one axis (the rows a pass needs).
std::pair<int, int> tap_rows(const Taps& taps, int inside_count, int block_first) {
  int lo = std::numeric_limits<int>::max(), hi = -1;
  for (int o = 0; o < inside_count; ++o)
    for (int k = 0; k < taps.count; ++k) {
      lo = std::min(lo, taps.index[o * kMaxTaps + k] - block_first);
      hi = std::max(hi, taps.index[o * kMaxTaps + k] - block_first);
    }
  return {lo, hi};
}

std::vector<float> sample(const Block& b, const Grid3& g) {
  const int ni = g.axes[0].inside_count, nj = g.axes[1].inside_count, nk = g.axes[2].inside_count;
  const auto [j_lo, j_hi] = tap_rows(g.taps[1], nj, b.first[1]);
  const auto [k_lo, k_hi] = tap_rows(g.taps[2], nk, b.first[2]);
  const int rows_j = j_hi - j_lo + 1, rows_k = k_hi - k_lo + 1;
  auto tap = [&](int axis, int o, int k) { return g.taps[axis].index[o * kMaxTaps + k] - b.first[axis]; };
  auto weight = [&](int axis, int o, int k) { return g.taps[axis].weight[o * kMaxTaps + k]; };
  // i: the block rows the j and k taps reach -> ni values each.
  std::vector<float> along_i(static_cast<std::size_t>(ni) * rows_j * rows_k);
  for (int kk = 0; kk < rows_k; ++kk)
    for (int jj = 0; jj < rows_j; ++jj) {
      const float* in = &b.data[(static_cast<std::size_t>(kk + k_lo) * b.size[1] + jj + j_lo) * b.size[0]];
      float* out = &along_i[(static_cast<std::size_t>(kk) * rows_j + jj) * ni];
      for (int o = 0; o < ni; ++o) {
        double acc = 0.0;
        for (int k = 0; k < g.taps[0].count; ++k) acc += weight(0, o, k) * in[tap(0, o, k)];
        out[o] = static_cast<float>(acc);
      }
    }
  // j: rows of ni values, weighted sums of whole rows (vectorisable).
  std::vector<float> along_j(static_cast<std::size_t>(ni) * nj * rows_k);
  std::vector<double> acc(ni);
  for (int kk = 0; kk < rows_k; ++kk)
    for (int o = 0; o < nj; ++o) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int k = 0; k < g.taps[1].count; ++k) {
        const float* in = &along_i[(static_cast<std::size_t>(kk) * rows_j + tap(1, o, k) - j_lo) * ni];
        const double w = weight(1, o, k);
        for (int a = 0; a < ni; ++a) acc[a] += w * in[a];
      }
      std::copy(acc.begin(), acc.end(), &along_j[(static_cast<std::size_t>(kk) * nj + o) * ni]);
    }
  // k: planes of ni * nj values.
  const std::size_t plane = static_cast<std::size_t>(ni) * nj;
  std::vector<float> out(plane * nk);
  std::vector<double> pacc(plane);
  for (int o = 0; o < nk; ++o) {
    std::fill(pacc.begin(), pacc.end(), 0.0);
    for (int k = 0; k < g.taps[2].count; ++k) {
      const float* in = &along_j[static_cast<std::size_t>(tap(2, o, k) - k_lo) * plane];
      const double w = weight(2, o, k);
      for (std::size_t p = 0; p < plane; ++p) pacc[p] += w * in[p];
    }
    std::copy(pacc.begin(), pacc.end(), &out[o * plane]);
  }
  return out;
}

Grid3 make_grid(const Volume& v, const RoiRequest& r) {
  check_volume(v);
  check_request(r);
  const Point centre = continuous_index(v, r.centre_mm);
  Grid3 g;
  for (int a = 0; a < 3; ++a) {
    g.axes[a] = make_axis(v, r, centre, a);
    g.taps[a] = make_taps(g.axes[a], r.interpolation);
  }
  return g;
}

IndexBox source_block(const Grid3& g, RoiInterpolation interpolation) {
  IndexBox box;
  for (int a = 0; a < 3; ++a) {
    if (g.axes[a].inside_count == 0) return {};
    const auto [lo, hi] = block_range(g.axes[a], g.taps[a], interpolation);
    box.first[a] = lo;
    box.size[a] = hi - lo + 1;
  }
  return box;
}

Volume output_geometry(const Volume& v, const RoiRequest& r, const Grid3& g) {
  Volume out;
  out.size = r.out_size;
  for (int a = 0; a < 3; ++a) out.spacing[a] = r.size_mm[a] / r.out_size[a];
  out.direction = v.direction;
  out.origin = v.to_physical({g.axes[0].first, g.axes[1].first, g.axes[2].first});
  out.voxels.assign(out.count(), r.fill);
  return out;
}

}  // namespace

IndexBox roi_source_block(const Volume& volume, const RoiRequest& request) {
  return source_block(make_grid(volume, request), request.interpolation);
}

Volume resample_roi(const Volume& volume, const RoiRequest& request) {
  const Grid3 g = make_grid(volume, request);
  Volume out = output_geometry(volume, request, g);
  const IndexBox box = source_block(g, request.interpolation);
  if (box.empty()) return out;  // the whole box lies outside the volume
  Block b = copy_block(volume, box);
  for (int a = 0; a < 3; ++a)
    if (g.axes[a].sigma > 0 && g.axes[a].radius > 0) gaussian_along(b, a, g.axes[a].sigma, g.axes[a].radius);
  if (request.interpolation == RoiInterpolation::CubicBSpline)
    for (int a = 0; a < 3; ++a) bspline_prefilter_along(b, a);
  const std::vector<float> inside = sample(b, g);
  const auto& [ax, ay, az] = g.axes;
  for (int k = 0; k < az.inside_count; ++k)
    for (int j = 0; j < ay.inside_count; ++j) {
      const float* row = &inside[(static_cast<std::size_t>(k) * ay.inside_count + j) * ax.inside_count];
      std::copy(row, row + ax.inside_count,
                &out.voxels[out.index(ax.inside_first, ay.inside_first + j, az.inside_first + k)]);
    }
  return out;
}

std::map<int, Region> region_centroids(const Volume& labels) {
  struct Sums {
    long long count = 0;
    long long i = 0, j = 0, k = 0;  // exact, so the result does not depend on order
  };
  std::map<int, Sums> sums;
  const float limit = static_cast<float>(std::numeric_limits<int>::max() / 2);
  for (int k = 0; k < labels.size[2]; ++k)
    for (int j = 0; j < labels.size[1]; ++j) {
      const float* row = &labels.voxels[labels.index(0, j, k)];
      for (int i = 0; i < labels.size[0]; ++i) {
        const float v = row[i];
        if (!(std::abs(v) >= 0.5f && std::abs(v) < limit)) continue;  // background, NaN, absurd
        Sums& s = sums[static_cast<int>(std::lround(v))];
        ++s.count, s.i += i, s.j += j, s.k += k;
      }
    }
  std::map<int, Region> regions;
  for (const auto& [label, s] : sums) {
    Region r;
    r.voxels = s.count;
    r.mean_index = {static_cast<double>(s.i) / s.count, static_cast<double>(s.j) / s.count,
                    static_cast<double>(s.k) / s.count};
    r.centroid_mm = labels.to_physical(r.mean_index);
    regions.emplace(label, r);
  }
  return regions;
}

}  // namespace mmb
