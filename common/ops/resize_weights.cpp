// Per-axis weight matrices. The spline row is W = S * P * G (sampling,
// prefilter, Gaussian): the recipe of skimage.transform.resize(order=3,
// anti_aliasing=True) on a shrinking axis and of scipy.ndimage.zoom(order=3,
// grid_mode=True, mode='grid-mirror') otherwise (scikit-image
// skimage/transform/_warps.py resize; scipy/ndimage/src/ni_interpolation.c NI_ZoomShift).
#include "common/ops/resize_weights.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "common/ops/spline_kernels.h"

namespace mmb::resize_detail {
namespace {

// One spline axis: everything that does not depend on the output index.
class SplineAxis {
 public:
  SplineAxis(int n_in, int n_out)
      : n_(n_in), scale_(static_cast<double>(n_in) / n_out),
        boundary_(n_in > n_out ? Boundary::WholeSample : Boundary::HalfSample) {
    if (n_in > n_out) make_gaussian((scale_ - 1.0) / 2.0);
    factor_transposed_sampling_matrix();
  }

  // Row i of S * P * G, dense over the n_in inputs.
  void row(int i, std::vector<double>& w) const {
    std::vector<double> y(n_, 0.0);
    const double x = (i + 0.5) * scale_ - 0.5;
    const double f = std::floor(x);
    double taps[4];
    cubic_bspline_weights(x - f, taps);
    for (int k = 0; k < 4; ++k) y[fold_index(static_cast<long long>(f) - 1 + k, n_, boundary_)] += taps[k];
    solve_transposed(y);  // y = P^T s_i, so y^T = s_i^T P
    apply_transposed_gaussian(y, w);
  }

 private:
  // scipy's _gaussian_kernel1d: radius int(4 sigma + 0.5), normalised to sum 1.
  void make_gaussian(double sigma) {
    radius_ = gaussian_radius(sigma);
    gauss_ = gaussian_kernel(sigma, radius_);
  }

  // B: f[j] = (c[j-1] + 4 c[j] + c[j+1]) / 6 with the boundary's folding
  // (for n >= 2 a folded neighbour is always j-1, j or j+1, so B stays
  // tridiagonal). We factor B^T once (Thomas algorithm; B is diagonally
  // dominant, so no pivoting is needed) because rows of W = S B^-1 G are
  // solves with B^T: n_out solves instead of n_in column solves with B.
  void factor_transposed_sampling_matrix() {
    if (n_ == 1) return;  // B = [1]: the prefilter is the identity
    std::vector<double> lower(n_, 0.0), diag(n_, 0.0), upper(n_, 0.0);
    for (int j = 0; j < n_; ++j) {
      diag[j] += 4.0 / 6.0;
      for (int d : {-1, 1}) {
        const int k = fold_index(j + d, n_, boundary_);
        (k == j ? diag[j] : k < j ? lower[j] : upper[j]) += 1.0 / 6.0;
      }
    }
    // B^T: sub-diagonal a[j] = B[j-1][j], super-diagonal c[j] = B[j+1][j].
    sub_.assign(n_, 0.0);
    sup_prime_.assign(n_, 0.0);
    inv_pivot_.assign(n_, 0.0);
    for (int j = 0; j < n_; ++j) {
      sub_[j] = j > 0 ? upper[j - 1] : 0.0;
      const double sup = j + 1 < n_ ? lower[j + 1] : 0.0;
      const double pivot = diag[j] - (j > 0 ? sub_[j] * sup_prime_[j - 1] : 0.0);
      inv_pivot_[j] = 1.0 / pivot;
      sup_prime_[j] = sup * inv_pivot_[j];
    }
  }

  void solve_transposed(std::vector<double>& d) const {
    if (n_ == 1) return;
    d[0] *= inv_pivot_[0];
    for (int j = 1; j < n_; ++j) d[j] = (d[j] - sub_[j] * d[j - 1]) * inv_pivot_[j];
    for (int j = n_ - 2; j >= 0; --j) d[j] -= sup_prime_[j] * d[j + 1];
  }

  // w = G^T y, G[j][fold_index(j + t)] += g[t]. Entries of y below 1e-18 are
  // skipped: the prefilter's response decays geometrically, so this keeps the
  // cost near (support x Gaussian taps) and changes w by < n_in * 1e-18.
  void apply_transposed_gaussian(const std::vector<double>& y, std::vector<double>& w) const {
    if (gauss_.empty()) {
      w = y;
      return;
    }
    w.assign(n_, 0.0);
    for (int j = 0; j < n_; ++j) {
      if (std::abs(y[j]) <= 1e-18) continue;
      const bool inside = j - radius_ >= 0 && j + radius_ < n_;
      for (int t = -radius_; t <= radius_; ++t) {
        const int k = inside ? j + t : fold_index(j + t, n_, boundary_);
        w[k] += y[j] * gauss_[t + radius_];
      }
    }
  }

  int n_;
  double scale_;
  Boundary boundary_;
  int radius_ = 0;
  std::vector<double> gauss_;  // empty when the axis does not shrink
  std::vector<double> sub_, sup_prime_, inv_pivot_;
};

// Linear on half-pixel coordinates, clamp-to-edge (OpenCV INTER_LINEAR).
void linear_row(int n_in, int n_out, int i, std::vector<double>& w) {
  const double scale = static_cast<double>(n_in) / n_out;
  const double x = std::clamp((i + 0.5) * scale - 0.5, 0.0, n_in - 1.0);
  const int i0 = static_cast<int>(std::floor(x));
  const int i1 = std::min(i0 + 1, n_in - 1);
  w[i0] += 1.0 - (x - i0);
  w[i1] += x - i0;
}

// OpenCV's computeResizeAreaTab (imgproc/src/resize.cpp): the exact coverage of
// output cell [i*scale, (i+1)*scale) with OpenCV's 1e-3 slivers rule, so that
// "area" reproduces cv::resize(INTER_AREA) when shrinking.
void area_row(int n_in, int n_out, int i, std::vector<double>& w) {
  const double scale = 1.0 / (static_cast<double>(n_out) / n_in);  // as OpenCV derives it
  const double fsx1 = i * scale, fsx2 = fsx1 + scale;
  const double cell = std::min(scale, n_in - fsx1);
  int sx2 = std::min(static_cast<int>(std::floor(fsx2)), n_in - 1);
  const int sx1 = std::min(static_cast<int>(std::ceil(fsx1)), sx2);
  if (sx1 - fsx1 > 1e-3) w[sx1 - 1] += (sx1 - fsx1) / cell;
  for (int sx = sx1; sx < sx2; ++sx) w[sx] += 1.0 / cell;
  if (fsx2 - sx2 > 1e-3) w[sx2] += std::min(std::min(fsx2 - sx2, 1.0), cell) / cell;
}

// The input pixel that contains the output pixel's centre: floor((i+0.5)*s),
// in exact integer arithmetic.
void nearest_row(int n_in, int n_out, int i, std::vector<double>& w) {
  const long long idx = ((2LL * i + 1) * n_in) / (2LL * n_out);
  w[std::min<long long>(idx, n_in - 1)] = 1.0;
}

void check_sizes(int n_in, int n_out) {
  if (n_in < 1 || n_out < 1)
    throw std::invalid_argument("resize: axis sizes must be >= 1 (got " + std::to_string(n_in) +
                                " -> " + std::to_string(n_out) + ")");
}

// Calls emit(i, dense_row) for every output of the axis.
template <class Emit>
void for_each_dense_row(int n_in, int n_out, ResizeKernel kernel, Emit emit) {
  check_sizes(n_in, n_out);
  std::vector<double> w(n_in);
  if (n_in == n_out) {  // every kernel is the identity here (S = B for the spline)
    for (int i = 0; i < n_out; ++i) {
      std::fill(w.begin(), w.end(), 0.0);
      w[i] = 1.0;
      emit(i, w);
    }
    return;
  }
  if (kernel == ResizeKernel::Spline) {
    const SplineAxis axis(n_in, n_out);
    for (int i = 0; i < n_out; ++i) {
      axis.row(i, w);
      emit(i, w);
    }
    return;
  }
  for (int i = 0; i < n_out; ++i) {
    std::fill(w.begin(), w.end(), 0.0);
    if (kernel == ResizeKernel::Nearest) nearest_row(n_in, n_out, i, w);
    else if (kernel == ResizeKernel::Area && n_in > n_out) area_row(n_in, n_out, i, w);
    else linear_row(n_in, n_out, i, w);  // Linear, and Area when growing
    emit(i, w);
  }
}

}  // namespace

std::vector<std::vector<double>> dense_axis_matrix(int n_in, int n_out, ResizeKernel kernel) {
  std::vector<std::vector<double>> m(n_out > 0 ? n_out : 0);
  for_each_dense_row(n_in, n_out, kernel, [&](int i, const std::vector<double>& w) { m[i] = w; });
  return m;
}

AxisWeights build_axis_weights(int n_in, int n_out, ResizeKernel kernel, double tail_budget) {
  AxisWeights aw;
  aw.n_in = n_in;
  aw.n_out = n_out;
  const double side_budget = tail_budget / 2.0;
  for_each_dense_row(n_in, n_out, kernel, [&](int, const std::vector<double>& w) {
    int lo = 0, hi = n_in - 1;
    for (double dropped = 0.0; lo < hi && dropped + std::abs(w[lo]) <= side_budget; ++lo)
      dropped += std::abs(w[lo]);
    for (double dropped = 0.0; hi > lo && dropped + std::abs(w[hi]) <= side_budget; --hi)
      dropped += std::abs(w[hi]);
    aw.first.push_back(lo);
    aw.count.push_back(hi - lo + 1);
    aw.offset.push_back(static_cast<int>(aw.weight.size()));
    for (int k = lo; k <= hi; ++k) aw.weight.push_back(static_cast<float>(w[k]));
  });
  return aw;
}

}  // namespace mmb::resize_detail
