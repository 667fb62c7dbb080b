#pragma once
// Volumes from files with ITK: NIfTI (.nii, .nii.gz) and anything else ITK's
// ImageIO factory reads (.mha, .nrrd). Voxels are converted to float; spacing,
// origin and direction come from the header. The voxel array is kept in file
// order (no reorientation), so source voxel boxes stay valid.
#include <filesystem>

#include "common/core/volume.h"

namespace mmb {

// Header only (size, spacing, origin, direction; voxels left empty).
Volume read_volume_header(const std::filesystem::path& file);

// `check`'s quick probe: "" when the NIfTI header parses, its sizes are within the
// limits and the file holds the voxel bytes the header states (.nii: the file size;
// .nii.gz: the gzip trailer's length, mod 2^32, without inflating), else the reason.
std::string probe_volume_file(const std::filesystem::path& file);

// Throws InputError(file, reason) if the file is missing, truncated or not a
// 3D scalar volume.
Volume read_volume_file(const std::filesystem::path& file);

}  // namespace mmb
