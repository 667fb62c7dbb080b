#pragma once
// Internal to resize: how one axis's weight matrix W (n_out x n_in) is built.
// Exposed so the tests can compare the trimmed sparse rows with the exact
// dense matrix.
#include <vector>

#include "common/ops/resize.h"

namespace mmb::resize_detail {

// The largest sum of |w| that trimming may drop from one output's row (both
// tails together). A row sees values in 0..255, so one pass changes by at most
// 255 * 1e-7 = 2.6e-5 grey levels; three passes (3D) stay below 1e-4. The
// spline prefilter's tails decay by 0.268 per input pixel, so this costs only
// a few taps over a looser budget (the measured change is in test_resize).
inline constexpr double kTailBudget = 1e-7;

// W exactly, in double, one dense row of n_in weights per output.
std::vector<std::vector<double>> dense_axis_matrix(int n_in, int n_out, ResizeKernel kernel);

// W as contiguous runs per output; a weight stays unless it sits in a tail
// whose |w| sum is within tail_budget / 2 (per side).
AxisWeights build_axis_weights(int n_in, int n_out, ResizeKernel kernel,
                               double tail_budget = kTailBudget);

}  // namespace mmb::resize_detail
