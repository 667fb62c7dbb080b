#pragma once
// Region-of-interest resampling in physical space: a box of given size in mm
// around a physical centre, sampled with the cubic B-spline directly onto the
// output grid. Only a padded sub-block of the volume around the box is
// touched (its B-spline coefficients are computed on that sub-block, never on
// the whole volume). Direction cosines and anisotropic spacing are honoured.
// Points outside the volume take a fill value.
#include <array>

#include "common/core/volume.h"

namespace mmb {

struct RoiRequest {
  std::array<double, 3> centre_mm{};        // physical centre of the box
  std::array<double, 3> size_mm{};          // box edge lengths along the volume's axes
  std::array<int, 3> out_size{28, 28, 28};  // output voxels (i, j, k)
  float fill = -1024.0f;                    // value outside the volume (HU of air)
  bool anti_alias = true;                   // Gaussian pre-smoothing on axes that shrink
};

// The box's axes are the volume's own axes (its direction matrix), so a crop
// of an axial CT stays axial. Output voxel (a, b, c) samples the physical
// point centre + D * ((a + 0.5) / n_a - 0.5) * size_a ... (half-voxel centres).
Volume resample_roi(const Volume& volume, const RoiRequest& request);

}  // namespace mmb
