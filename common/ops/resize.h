#pragma once
// Separable resampling of 2D images and 3D volumes.
//
// Kernels:
//  * spline (default): cubic B-spline on half-pixel-centre coordinates
//    x_in = (i + 0.5) * n_in / n_out - 0.5. On an axis that shrinks by s > 1 the
//    signal is first smoothed with a Gaussian sigma = (s - 1) / 2 (truncate 4.0)
//    and both the Gaussian and the spline use the whole-sample mirror boundary:
//    this is skimage.transform.resize(order=3, anti_aliasing=True,
//    preserve_range=True). On an axis that grows or keeps its size, the
//    half-sample boundary of scipy.ndimage.zoom(order=3, grid_mode=True,
//    mode='grid-mirror') is used. The result is clipped to the input's range.
//  * area: exact pixel-coverage average (OpenCV INTER_AREA) when shrinking,
//    linear when growing.
//  * linear: linear interpolation on half-pixel coordinates (no anti-aliasing).
//  * nearest: the input pixel containing the output pixel centre (masks).
//  * pil-nearest, pil-box, pil-bilinear, pil-hamming, pil-bicubic, pil-lanczos:
//    Pillow's Image.resize with that filter, bit for bit, in its own 8-bit
//    fixed-point code (pil_resample.h). 2D only (a volume is resized slice by
//    slice and keeps its depth); the float entry points reject them.
//
// Each axis is one precomputed sparse weight matrix (n_out x n_in), cached per
// (n_in, n_out, kernel): the Gaussian, the spline prefilter and the spline
// sampling are folded into it, so the work is n_out x support per row, never a
// full-resolution blur. Output is rounded to nearest (ties to even) and clipped
// to 0..255.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/image.h"

namespace mmb {

enum class ResizeKernel {
  Spline, Area, Linear, Nearest,
  PilNearest, PilBox, PilBilinear, PilHamming, PilBicubic, PilLanczos
};

// True for the pil-* kernels.
bool is_pil_kernel(ResizeKernel kernel);
// Every kernel, in the order of the enum (for --help texts, benchmarks, compare --kernels).
const std::vector<ResizeKernel>& all_resize_kernels();

ResizeKernel parse_resize_kernel(std::string_view name);  // throws std::invalid_argument
std::string_view resize_kernel_name(ResizeKernel);

// A float raster with the same layout as Image (for tests and float pipelines).
struct FloatImage {
  int width = 0, height = 0, depth = 1, channels = 1;
  std::vector<float> data;
};

// Sparse per-axis weights: output i = sum_k weight[offset[i] + k] * in[first[i] + k],
// k < count[i]. Indices are already folded into [0, n_in).
struct AxisWeights {
  int n_in = 0, n_out = 0;
  std::vector<int> first, count, offset;
  std::vector<float> weight;
};
std::shared_ptr<const AxisWeights> axis_weights(int n_in, int n_out, ResizeKernel kernel);

FloatImage resize_float(const FloatImage& in, int out_w, int out_h, int out_d, ResizeKernel kernel);
Image resize(const Image& in, int out_w, int out_h, int out_d, ResizeKernel kernel);
// resize_float without the clip to the input's range: the raw spline, as
// scipy.ndimage.zoom returns it (for numerical comparisons).
FloatImage resize_float_unclipped(const FloatImage& in, int out_w, int out_h, int out_d, ResizeKernel kernel);

// Square (2D) or cubic (3D) outputs of side s for each s in sizes, from one input.
std::vector<Image> resize_to_sizes(const Image& in, const std::vector<int>& sizes, ResizeKernel kernel);

}  // namespace mmb
