#pragma once
// The grid on which Organ{A,C,S}MNIST count and cut the slices of an organ box.
//
// MedMNIST took "every 3 slices in 20-80% slices in each direction" of each box (maintainer,
// MedMNIST/MedMNIST issue #36), but on the raw LiTS voxel grid that rule gives axial < coronal
// < sagittal (on Xu et al.'s real boxes: 31,780 / 45,111 / 48,084), while the official files have
// axial 58,830 > sagittal 25,211 > coronal 23,583. The official counts are met by the same rule
// on the raw grid scaled by one constant factor per axis: 0.5245 in-plane and 1.867 along z
// give, on the real boxes (tests/data/xu2019_lits), 58,832 / 23,625 / 25,210. A physical (mm)
// grid does not: the official axial count per raw z voxel is the same in LiTS train and test
// (1.8731 and 1.8731), although the test volumes have visibly thicker slices (median liver
// box 93 vs 149 z voxels), so the z factor does not depend on the volume's spacing. The mm grid
// is offered as an option. docs/datasets/organmnist.md has the derivation.
//
// A grid with factor f along an axis has floor(f * n) slices over a box of n voxels; grid slice
// t (0-based from the box's first voxel) is centred at the continuous array index
// lo - 0.5 + (t + 0.5) / f, the half-voxel-centre rule of common/ops/roi_resample.h.
#include <array>
#include <string>
#include <vector>

#include "common/core/volume.h"
#include "common/ops/volume_ops.h"

namespace mmb {

struct SliceGrid {
  enum class Kind { Voxel, Scaled, Millimetre };
  Kind kind = Kind::Scaled;
  std::array<double, 3> scale{0.5245, 0.5245, 1.867};  // grid slices per raw voxel (i, j, k), Scaled
  double mm = 1.0;                                     // grid step in mm, Millimetre
};

// "voxel", "scaled" or "mm"; throws std::invalid_argument for anything else.
SliceGrid::Kind parse_slice_grid(const std::string& name);

// Grid slices per raw voxel along `axis` for a volume of this spacing (mm).
double grid_factor(const SliceGrid& grid, int axis, const std::array<double, 3>& spacing);

// Box-relative grid slice indices t of a box lo..hi (inclusive) along one axis: the rule's
// range(int(from * m), int(to * m), step) with m = floor(f * (hi - lo + 1)).
std::vector<int> grid_slices(int lo, int hi, double factor, const CentralSliceRule& rule);

// The one-slice-thick slab of `box` at grid slice t along the plane's normal, sampled by
// resample_roi (cubic B-spline, Gaussian anti-aliasing where the grid is coarser than the raw
// voxels) at the raw voxel centres in-plane. With factor 1 this is exactly crop_box of the
// voxel slab lo + t.
Volume grid_slab(const Volume& volume, const VoxelBox& box, Plane plane, int t, double factor);

}  // namespace mmb
