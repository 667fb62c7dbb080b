#include "common/ops/volume_ops.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace mmb {
namespace {

constexpr std::array<std::string_view, 3> kPlaneNames = {"axial", "coronal", "sagittal"};

void check_axes(int a, int b) {
  if (a < 0 || a > 2 || b < 0 || b > 2) throw std::invalid_argument("axes must be 0, 1 or 2");
}

// Box code fields x1 x2 y1 y2 z1 z2, most significant first.
constexpr std::array<int, 6> kCodeBits = {10, 10, 10, 10, 12, 12};

std::array<int, 6> box_fields(const VoxelBox& b) { return {b.lo[0], b.hi[0], b.lo[1], b.hi[1], b.lo[2], b.hi[2]}; }

}  // namespace

bool box_encodable(const VoxelBox& box) {
  const auto v = box_fields(box);
  for (int f = 0; f < 6; ++f)
    if (v[f] < 0 || v[f] >= (1 << kCodeBits[f])) return false;
  return true;
}

std::int64_t encode_box(const VoxelBox& box) {
  if (!box_encodable(box)) throw std::invalid_argument("box (" + box_text(box) + ") exceeds the 64-bit box code");
  const auto v = box_fields(box);
  std::uint64_t code = 0;
  for (int f = 0; f < 6; ++f) code = code << kCodeBits[f] | static_cast<std::uint64_t>(v[f]);
  return static_cast<std::int64_t>(code);
}

VoxelBox decode_box(std::int64_t code) {
  auto bits = static_cast<std::uint64_t>(code);
  std::array<int, 6> v{};
  for (int f = 5; f >= 0; --f) {
    v[f] = static_cast<int>(bits & ((std::uint64_t{1} << kCodeBits[f]) - 1));
    bits >>= kCodeBits[f];
  }
  return {{v[0], v[2], v[4]}, {v[1], v[3], v[5]}};
}

bool box_fits(const VoxelBox& box, const std::array<int, 3>& size) {
  for (int a = 0; a < 3; ++a)
    if (box.lo[a] < 0 || box.lo[a] > box.hi[a] || box.hi[a] >= size[a]) return false;
  return true;
}

std::string box_text(const VoxelBox& box) {
  std::string out;
  const char* names[3] = {"x", "y", "z"};
  for (int a = 0; a < 3; ++a)
    out += std::string(a ? ", " : "") + names[a] + " " + std::to_string(box.lo[a]) + ".." + std::to_string(box.hi[a]);
  return out;
}

int normal_axis(Plane plane) {
  switch (plane) {
    case Plane::Axial: return 2;
    case Plane::Coronal: return 1;
    case Plane::Sagittal: return 0;
  }
  throw std::logic_error("unknown plane");
}

std::string_view plane_name(Plane plane) { return kPlaneNames[static_cast<int>(plane)]; }

Plane parse_plane(std::string_view name) {
  for (std::size_t p = 0; p < kPlaneNames.size(); ++p)
    if (kPlaneNames[p] == name) return static_cast<Plane>(p);
  throw std::invalid_argument("unknown plane '" + std::string(name) + "' (axial, coronal or sagittal)");
}

Volume crop_box(const Volume& volume, const VoxelBox& box) {
  if (!box_fits(box, volume.size))
    throw std::invalid_argument("box (" + box_text(box) + ") does not fit a volume of " +
                                std::to_string(volume.size[0]) + "x" + std::to_string(volume.size[1]) + "x" +
                                std::to_string(volume.size[2]));
  Volume out;
  out.size = {box.extent(0), box.extent(1), box.extent(2)};
  out.spacing = volume.spacing;
  out.direction = volume.direction;
  out.origin = volume.to_physical({double(box.lo[0]), double(box.lo[1]), double(box.lo[2])});
  out.voxels.resize(out.count());
  // Rows along i are contiguous in both volumes: one copy per (j, k) row.
  const std::size_t row = static_cast<std::size_t>(out.size[0]);
  float* dst = out.voxels.data();
  for (int k = box.lo[2]; k <= box.hi[2]; ++k)
    for (int j = box.lo[1]; j <= box.hi[1]; ++j, dst += row)
      std::memcpy(dst, &volume.voxels[volume.index(box.lo[0], j, k)], row * sizeof(float));
  return out;
}

VoxelBox plane_slab(const VoxelBox& box, Plane plane, int index) {
  const int axis = normal_axis(plane);
  if (index < box.lo[axis] || index > box.hi[axis])
    throw std::invalid_argument("slice " + std::to_string(index) + " is outside the box (" + box_text(box) + ")");
  VoxelBox slab = box;
  slab.lo[axis] = slab.hi[axis] = index;
  return slab;
}

Image slab_as_plane_image(Image slab, Plane plane) {
  const std::array<int, 3> dims = {slab.width, slab.height, slab.depth};
  if (dims[normal_axis(plane)] != 1)
    throw std::invalid_argument(std::string("a ") + std::string(plane_name(plane)) + " slab must be one voxel thick");
  switch (plane) {
    case Plane::Axial: break;  // (i, j) already
    case Plane::Coronal: slab.height = dims[2]; break;  // (i, k)
    case Plane::Sagittal: slab.width = dims[1], slab.height = dims[2]; break;  // (j, k)
  }
  slab.depth = 1;
  return slab;
}

std::vector<int> central_slices(int lo, int hi, const CentralSliceRule& rule) {
  if (rule.step < 1) throw std::invalid_argument("slice step must be at least 1");
  if (!(rule.from >= 0.0 && rule.from <= rule.to && rule.to <= 1.0))
    throw std::invalid_argument("slice range must satisfy 0 <= from <= to <= 1");
  const int n = hi - lo + 1;
  // Python's int() truncates toward zero; the products are non-negative.
  const int first = static_cast<int>(rule.from * n), stop = static_cast<int>(rule.to * n);
  std::vector<int> out;
  for (int t = first; t < stop; t += rule.step) out.push_back(lo + t);
  return out;
}

Volume swap_axes(const Volume& volume, int a, int b) {
  check_axes(a, b);
  if (a == b) return volume;
  Volume out = volume;
  std::swap(out.size[a], out.size[b]);
  std::swap(out.spacing[a], out.spacing[b]);
  for (int r = 0; r < 3; ++r) std::swap(out.direction[3 * r + a], out.direction[3 * r + b]);
  std::array<int, 3> at{};
  for (at[2] = 0; at[2] < volume.size[2]; ++at[2])
    for (at[1] = 0; at[1] < volume.size[1]; ++at[1])
      for (at[0] = 0; at[0] < volume.size[0]; ++at[0]) {
        std::array<int, 3> to = at;
        std::swap(to[a], to[b]);
        out.at(to[0], to[1], to[2]) = volume.at(at[0], at[1], at[2]);
      }
  return out;
}

VoxelBox swap_axes(const VoxelBox& box, int a, int b) {
  check_axes(a, b);
  VoxelBox out = box;
  std::swap(out.lo[a], out.lo[b]);
  std::swap(out.hi[a], out.hi[b]);
  return out;
}

bool is_constant(const Image& image) {
  const auto& p = image.pixels;
  return std::adjacent_find(p.begin(), p.end(), std::not_equal_to<>()) == p.end();
}

}  // namespace mmb
