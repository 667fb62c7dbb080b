#pragma once
// Voxel-box operations on volumes, for sources that annotate boxes in voxel
// indices (LiTS + Xu et al. organ boxes): crop a box, take the slices of a box
// in the axial / coronal / sagittal plane, pick the central slices of a box,
// swap two array axes (a mis-stored volume), and tell a blank (constant) crop.
//
// Index convention (common/core/volume.h): voxel (i, j, k), i fastest, in the
// array order ITK and nibabel load. Planes are named for a CT stored the usual
// way (k = patient z): an axial slice fixes k, a coronal one fixes j, a
// sagittal one fixes i. Nothing here reorients: boxes apply to the raw array.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/image.h"
#include "common/core/volume.h"

namespace mmb {

// An axis-aligned box of voxels, bounds inclusive on both ends (as Xu et al.'s
// "x1 x2 y1 y2 z1 z2" lines are).
struct VoxelBox {
  std::array<int, 3> lo{0, 0, 0};
  std::array<int, 3> hi{0, 0, 0};

  int extent(int axis) const { return hi[axis] - lo[axis] + 1; }
  bool operator==(const VoxelBox&) const = default;
};

// A box in 64 bits, so a sample can carry its crop (Sample::aux): x and y bounds in 10 bits
// each, z bounds in 12 (CT slices up to 1024 wide, stacks up to 4096 deep; LiTS is 512 x 512
// x at most ~1000). encode_box throws std::invalid_argument for a box beyond those limits.
bool box_encodable(const VoxelBox& box);
std::int64_t encode_box(const VoxelBox& box);
VoxelBox decode_box(std::int64_t code);

// True when lo <= hi on every axis and the box lies inside a volume of `size`.
bool box_fits(const VoxelBox& box, const std::array<int, 3>& size);
std::string box_text(const VoxelBox& box);  // "x 3..20, y 4..9, z 0..11" (for messages)

enum class Plane { Axial, Coronal, Sagittal };

// The array axis a plane's slices are stacked along: axial k (2), coronal j (1), sagittal i (0).
int normal_axis(Plane plane);
std::string_view plane_name(Plane plane);  // "axial", "coronal", "sagittal"
// Throws std::invalid_argument for any other name.
Plane parse_plane(std::string_view name);

// The voxels of `box`, with the geometry of that sub-volume (spacing and
// direction kept, origin moved to the box's first voxel). Throws
// std::invalid_argument naming the box if it does not fit the volume.
Volume crop_box(const Volume& volume, const VoxelBox& box);

// The one-voxel-thick slab of `box` at array index `index` along the plane's
// normal axis. Throws std::invalid_argument if index is outside the box.
VoxelBox plane_slab(const VoxelBox& box, Plane plane, int index);

// A one-voxel-thick slab (an Image of depth 1, or of height 1 or width 1) as a
// 2D image in its plane: axial (x = i, y = j), coronal (x = i, y = k),
// sagittal (x = j, y = k). The pixels are not moved: i-fastest storage of a
// slab is already row-major in these axes. Throws std::invalid_argument if the
// slab is thicker than one voxel along the plane's normal.
Image slab_as_plane_image(Image slab, Plane plane);

// Which slices of a box to take, as offsets from the box's first slice.
struct CentralSliceRule {
  double from = 0.2;  // fraction of the box's extent where the range starts
  double to = 0.8;    // ... and where it ends (exclusive)
  int step = 3;       // every step-th slice
};
// Array indices lo + t for t in range(int(from * n), int(to * n), step), with
// n = hi - lo + 1 and int() truncation of the double product, exactly as
// Python's range() with those arguments. Throws std::invalid_argument for a
// step < 1, fractions outside [0, 1] or from > to.
std::vector<int> central_slices(int lo, int hi, const CentralSliceRule& rule);

// Exchanges array axes a and b (0..2): voxels, size, spacing and the matching
// direction columns, so every voxel keeps its physical position. Used to
// repair a volume stored with two axes swapped.
Volume swap_axes(const Volume& volume, int a, int b);
// The same exchange applied to a box given in the swapped volume's indices.
VoxelBox swap_axes(const VoxelBox& box, int a, int b);

// A blank sample: every pixel (voxel, channel) has the same value. An empty
// image counts as blank.
bool is_constant(const Image& image);

}  // namespace mmb
