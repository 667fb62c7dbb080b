#pragma once
// Crops and channel conversion: the small, exact steps around the resize.
#include "common/core/image.h"

namespace mmb {

// Centre crop to w x h (2D). Offsets are floor((W - w) / 2) and
// floor((H - h) / 2): an odd difference drops the extra pixel at the end
// (MONAI's CenterSpatialCrop convention). Throws std::invalid_argument if the
// crop is larger than the image.
Image center_crop(const Image& in, int w, int h);

// Centre crop to a square whose side is the short edge.
Image center_crop_square(const Image& in);

// Converts to 1 channel (luminance L = 0.299 R + 0.587 G + 0.114 B, rounded,
// as PIL's convert("L")) or 3 channels (gray replicated). Alpha is dropped, as
// PIL does when converting RGBA or LA.
Image to_channels(const Image& in, int channels);

// Maximum over z of a volume: a 2D image (TissueMNIST's 7-slice projection).
Image max_projection_z(const Image& in);

}  // namespace mmb
