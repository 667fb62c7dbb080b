#pragma once
// A scalar 3D volume in physical space (CT in HU, masks, EM): voxel (i, j, k)
// with i fastest, at physical point origin + direction * diag(spacing) * (i, j, k)
// (ITK's convention; direction is row-major 3x3, spacing in mm). The index
// order is the array order ITK and nibabel load, so voxel boxes from source
// annotations apply directly, without reorienting.
#include <array>
#include <cstddef>
#include <vector>

namespace mmb {

struct Volume {
  std::array<int, 3> size{0, 0, 0};               // (i, j, k) extents
  std::array<double, 3> spacing{1.0, 1.0, 1.0};   // mm per index step
  std::array<double, 3> origin{0.0, 0.0, 0.0};    // physical point of voxel (0, 0, 0)
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};
  std::vector<float> voxels;                      // size[0] * size[1] * size[2], i fastest

  std::size_t count() const { return static_cast<std::size_t>(size[0]) * size[1] * size[2]; }
  std::size_t index(int i, int j, int k) const {
    return (static_cast<std::size_t>(k) * size[1] + j) * size[0] + i;
  }
  float at(int i, int j, int k) const { return voxels[index(i, j, k)]; }
  float& at(int i, int j, int k) { return voxels[index(i, j, k)]; }

  // Continuous index -> physical point (mm).
  std::array<double, 3> to_physical(const std::array<double, 3>& ijk) const {
    std::array<double, 3> p = origin;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) p[r] += direction[3 * r + c] * spacing[c] * ijk[c];
    return p;
  }
};

}  // namespace mmb
