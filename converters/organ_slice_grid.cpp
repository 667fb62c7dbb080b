#include "converters/organ_slice_grid.h"

#include <cmath>
#include <stdexcept>

#include "common/ops/roi_resample.h"

namespace mmb {

SliceGrid::Kind parse_slice_grid(const std::string& name) {
  if (name == "voxel") return SliceGrid::Kind::Voxel;
  if (name == "scaled") return SliceGrid::Kind::Scaled;
  if (name == "mm") return SliceGrid::Kind::Millimetre;
  throw std::invalid_argument("slice grid '" + name + "' is not one of voxel, scaled, mm");
}

double grid_factor(const SliceGrid& grid, int axis, const std::array<double, 3>& spacing) {
  switch (grid.kind) {
    case SliceGrid::Kind::Voxel: return 1.0;
    case SliceGrid::Kind::Scaled: return grid.scale.at(axis);
    case SliceGrid::Kind::Millimetre: return spacing.at(axis) / grid.mm;
  }
  return 1.0;
}

std::vector<int> grid_slices(int lo, int hi, double factor, const CentralSliceRule& rule) {
  if (!(factor > 0.0)) throw std::invalid_argument("slice grid factor must be positive");
  // floor of the IEEE double product, as Python's math.floor(f * n).
  const int m = static_cast<int>(std::floor(factor * (hi - lo + 1)));
  if (m < 1) return {};
  return central_slices(0, m - 1, rule);
}

Volume grid_slab(const Volume& volume, const VoxelBox& box, Plane plane, int t, double factor) {
  const int normal = normal_axis(plane);
  if (factor == 1.0) return crop_box(volume, plane_slab(box, plane, box.lo[normal] + t));
  if (!box_fits(box, volume.size)) throw std::invalid_argument("box (" + box_text(box) + ") does not fit the volume");
  std::array<double, 3> centre_index{};
  RoiRequest r;
  for (int a = 0; a < 3; ++a) {
    if (a == normal) {
      centre_index[a] = box.lo[a] - 0.5 + (t + 0.5) / factor;
      r.size_mm[a] = volume.spacing[a] / factor;
      r.out_size[a] = 1;
    } else {
      centre_index[a] = 0.5 * (box.lo[a] + box.hi[a]);
      r.size_mm[a] = volume.spacing[a] * box.extent(a);
      r.out_size[a] = box.extent(a);
    }
  }
  r.centre_mm = volume.to_physical(centre_index);
  return resample_roi(volume, r);
}

}  // namespace mmb
