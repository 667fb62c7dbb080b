#pragma once
// Crops and channel conversion: the small, exact steps around the resize.
#include "common/core/image.h"

namespace mmb {

// The start of a centre crop of `crop` pixels in `size`, as torchvision's
// CenterCrop computes it: int(round((size - crop) / 2)) with Python's
// round-half-to-even (MedMNIST v1 cropped and resized with torchvision
// transforms). 0 -> 0, 1 -> 0, 3 -> 2, 5 -> 2, 7 -> 4.
int center_crop_offset(int size, int crop);

// Centre crop to w x h (2D) at center_crop_offset on each axis. Throws
// std::invalid_argument if the crop is larger than the image.
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
