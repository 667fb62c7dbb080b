#pragma once
// Pillow's Image.resize(size, filter) for 8-bit images, bit for bit.
//
// MedMNIST v1 resized with torchvision.transforms.Resize (Yang et al., "MedMNIST
// Classification Decathlon", ISBI 2021), which on a PIL image is Pillow's
// resize with BILINEAR. The algorithm below is the one of Pillow's
// src/libImaging/Resample.c (and, for NEAREST, Geometry.c's scale-only affine
// transform), re-implemented:
//  * per axis, output i has its centre at (i + 0.5) * scale in input
//    coordinates, scale = n_in / n_out; the filter is stretched by
//    max(scale, 1) (antialiasing when shrinking), its support likewise;
//  * the taps are input pixels round(centre - support) .. round(centre +
//    support), clipped to the image; weights are filter((x + 0.5 - centre) /
//    max(scale, 1)), normalised to sum 1 over the taps that remain, then
//    turned into 22-bit fixed point (round half away from zero);
//  * horizontal pass first, into an 8-bit buffer (rounded: + 2^21, >> 22,
//    clamp to 0..255), then the vertical pass on it, rounded the same way; an
//    axis whose size does not change is not resampled at all;
//  * NEAREST takes input pixel floor(0.5 * scale + i * scale), the position
//    accumulated in double as Pillow does.
// Channels are resampled independently (Pillow's RGB path equals L per band).
// test_pil_resample compares every filter with Debian's python3-pil.
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/image.h"

namespace mmb {

enum class PilFilter { Nearest, Box, Bilinear, Hamming, Bicubic, Lanczos };

// 2D resize of each slice (out depth = in depth). Any channel count.
Image pil_resize(const Image& in, int out_w, int out_h, PilFilter filter);
// Several output sizes (w, h) of one input, sharing the work on the input.
std::vector<Image> pil_resize_to_sizes(const Image& in, const std::vector<std::pair<int, int>>& sizes, PilFilter filter);

namespace pil_detail {

// One axis's fixed-point taps, Pillow's precompute_coeffs + normalize_coeffs_8bpc:
// output i = clip8(2^21 + sum_k coeff[i * ksize + k] * in[first[i] + k]), k < count[i].
struct PilAxis {
  int n_in = 0, n_out = 0, ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> coeff;
};
// Cached per (n_in, n_out, filter); not for Nearest.
std::shared_ptr<const PilAxis> pil_axis(int n_in, int n_out, PilFilter filter);

// The filter's value at x (support-normalised units), as Pillow computes it.
double pil_filter_value(PilFilter filter, double x);

// dst (w rows of h * channels bytes) = src (h rows of w * channels bytes) transposed:
// dst[x][y * channels + c] = src[y][x * channels + c].
void transpose_pixels(const std::uint8_t* src, int w, int h, int channels, std::uint8_t* dst);

}  // namespace pil_detail
}  // namespace mmb
