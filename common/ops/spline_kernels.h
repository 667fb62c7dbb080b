#pragma once
// The 1D building blocks shared by the resize weights and the ROI resampler,
// written once so both follow scipy/skimage the same way.
#include <cmath>
#include <vector>

namespace mmb {

// Boundary extension: whole-sample mirror (d c b | a b c d | c b a, ndimage
// 'mirror') or half-sample (d c b a | a b c d | d c b a, ndimage 'grid-mirror').
enum class Boundary { WholeSample, HalfSample };

// Folds any index into [0, n) periodically, so it also works for indices more
// than one length away (a Gaussian wider than the signal).
inline int fold_index(long long i, int n, Boundary b = Boundary::WholeSample) {
  if (n == 1) return 0;
  const long long period = b == Boundary::WholeSample ? 2LL * n - 2 : 2LL * n;
  long long m = i % period;
  if (m < 0) m += period;
  if (m < n) return static_cast<int>(m);
  return static_cast<int>(b == Boundary::WholeSample ? period - m : period - 1 - m);
}

// beta3 weights of the taps floor(x)-1 .. floor(x)+2 at fractional offset t.
inline void cubic_bspline_weights(double t, double w[4]) {
  const double t2 = t * t, t3 = t2 * t, u = 1.0 - t;
  w[0] = u * u * u / 6.0;
  w[1] = (4.0 - 6.0 * t2 + 3.0 * t3) / 6.0;
  w[2] = (1.0 + 3.0 * t + 3.0 * t2 - 3.0 * t3) / 6.0;
  w[3] = t3 / 6.0;
}

// scipy's _gaussian_kernel1d: exp(-t^2 / (2 sigma^2)) for |t| <= radius, sum 1.
// skimage/scipy use radius = int(4 sigma + 0.5) (truncate 4.0).
inline std::vector<double> gaussian_kernel(double sigma, int radius) {
  std::vector<double> g(2 * radius + 1);
  double sum = 0.0;
  for (int t = -radius; t <= radius; ++t) sum += g[t + radius] = std::exp(-0.5 * t * t / (sigma * sigma));
  for (double& v : g) v /= sum;
  return g;
}

inline int gaussian_radius(double sigma) { return static_cast<int>(4.0 * sigma + 0.5); }

}  // namespace mmb
