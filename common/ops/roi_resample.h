#pragma once
// Region-of-interest resampling in physical space: a box of given size in mm
// around a physical centre, sampled with the cubic B-spline directly onto the
// output grid. Only a padded sub-block of the volume around the box is
// touched (its B-spline coefficients are computed on that sub-block, never on
// the whole volume). Direction cosines and anisotropic spacing are honoured.
// Points outside the volume take a fill value.
//
// Recipe, per axis a of the volume (i, j, k):
//  1. Geometry. Output voxel t sits at the physical point
//       centre + D * u,  u_a = ((t_a + 0.5) / n_a - 0.5) * size_a   (half-voxel centres)
//     and maps to the continuous index x = (D * diag(spacing))^-1 * (p - origin).
//     Because the box's axes are the volume's own axes, this reduces exactly to
//     x_a = c_a + u_a / spacing_a with c = the centre's continuous index: the
//     grid is separable for any (even non-orthogonal) direction matrix.
//  2. Inside test. A point is inside when -0.5 <= x_a <= n_a - 0.5 on every axis
//     (ITK's continuous-index buffer test); any other point takes `fill`.
//  3. Anti-aliasing. If the output step s_a = size_a / (n_a * spacing_a) exceeds
//     one input voxel, the sub-block is smoothed along a with a Gaussian of
//     sigma = (s_a - 1) / 2 voxels, radius int(4 sigma + 0.5), whole-sample
//     mirror boundary: the skimage.transform.resize rule that common/ops/resize
//     also follows (scikit-image skimage/transform/_warps.py, resize with
//     anti_aliasing; scipy.ndimage.gaussian_filter's truncate=4.0).
//  4. Spline. The cubic B-spline coefficients come from the exact recursive
//     prefilter (pole sqrt(3) - 2) with scipy's 'mirror' initialisation, on the
//     sub-block; the output is sampled with 4 taps per axis, separably. At a
//     real volume edge the mirror is the volume's own boundary, as in ITK's
//     BSplineDecompositionImageFilter and scipy.ndimage 'mirror'.
//
// The sub-block is the index range the taps reach, widened on each side by
// kPrefilterPad + the Gaussian radius and clipped to the volume. Why that is
// enough: the prefilter's impulse response decays by |pole| = 0.268 per voxel,
// so replacing the true neighbours beyond the pad by a mirror changes a
// coefficient by at most 0.268^12 = 1.4e-7 of the value range (4e-4 HU on a
// 3000 HU range); the Gaussian's own mirror error lies only within its radius
// of the block edge, which the extra radius keeps 12 voxels from any tap.
// tests/unit/test_roi_resample.cpp compares against scipy on the whole volume.
#include <array>
#include <map>

#include "common/core/volume.h"

namespace mmb {

enum class RoiInterpolation {
  CubicBSpline,  // CT intensities (default)
  Linear,        // masks: trilinear on the raw voxels, then the caller thresholds
  Nearest,       // label maps: the voxel whose centre is nearest (ties round up)
};

struct RoiRequest {
  std::array<double, 3> centre_mm{};        // physical centre of the box
  std::array<double, 3> size_mm{};          // box edge lengths along the volume's axes
  std::array<int, 3> out_size{28, 28, 28};  // output voxels (i, j, k)
  float fill = -1024.0f;                    // value outside the volume (HU of air)
  bool anti_alias = true;                   // Gaussian pre-smoothing on axes that shrink
  RoiInterpolation interpolation = RoiInterpolation::CubicBSpline;
};

// Voxels beyond the taps (per side) over which the prefilter runs, see above.
inline constexpr int kPrefilterPad = 12;

// The box's axes are the volume's own axes (its direction matrix), so a crop
// of an axial CT stays axial. Output voxel (a, b, c) samples the physical
// point centre + D * ((a + 0.5) / n_a - 0.5) * size_a ... (half-voxel centres).
// The result has spacing size / out_size, the volume's direction, and the
// origin at output voxel (0, 0, 0). Values are not clipped (a cubic spline
// overshoots at edges; windowing clips later). Throws std::invalid_argument
// for an empty or inconsistent volume, a singular direction * spacing, or a
// non-positive size.
Volume resample_roi(const Volume& volume, const RoiRequest& request);

// Voxel index ranges [first, first + size) of the volume.
struct IndexBox {
  std::array<int, 3> first{0, 0, 0};
  std::array<int, 3> size{0, 0, 0};
  bool empty() const { return size[0] <= 0 || size[1] <= 0 || size[2] <= 0; }
};

// The sub-block resample_roi reads for this request (empty when the whole box
// lies outside the volume). Voxels outside it never influence the result.
IndexBox roi_source_block(const Volume& volume, const RoiRequest& request);

// Where to centre ROIs on a label map (an instance map, or a 0/1 mask): for
// each non-zero integer value, its voxel count and the physical point of its
// mean voxel index (the centroid skimage.measure.regionprops reports, mapped
// through the volume's geometry). Values are rounded to the nearest integer.
struct Region {
  long long voxels = 0;
  std::array<double, 3> mean_index{};   // continuous (i, j, k)
  std::array<double, 3> centroid_mm{};  // physical point of mean_index
};
std::map<int, Region> region_centroids(const Volume& labels);

}  // namespace mmb
