#include "common/pipeline/preprocess.h"

#include <stdexcept>

#include "common/ops/geometry.h"

namespace mmb {

PreprocessParams preprocess_params(const Manifest& m) {
  PreprocessParams p;
  const std::string crop = m.get_string("preprocess.crop", "none");
  if (crop == "none") {
    p.crop = CropRule::None;
  } else if (crop == "center_square") {
    p.crop = CropRule::CenterSquare;
  } else if (crop == "center") {
    const auto size = m.get_numbers("preprocess.crop_size", {});
    if (size.size() != 2) throw std::runtime_error(m.file.string() + ": crop = \"center\" needs crop_size = [w, h]");
    p.crop = CropRule::Center;
    p.crop_width = static_cast<int>(size[0]);
    p.crop_height = static_cast<int>(size[1]);
  } else {
    throw std::runtime_error(m.file.string() + ": unknown preprocess.crop '" + crop + "'");
  }
  p.kernel = parse_resize_kernel(m.get_string("preprocess.resize_kernel", "spline"));
  p.channels = m.n_channels;
  return p;
}

std::vector<Image> preprocess(Image loaded, const PreprocessParams& p, const std::vector<int>& sizes) {
  Image img = loaded.channels == p.channels ? std::move(loaded) : to_channels(loaded, p.channels);
  switch (p.crop) {
    case CropRule::None: break;
    case CropRule::CenterSquare: img = center_crop_square(img); break;
    case CropRule::Center: img = center_crop(img, p.crop_width, p.crop_height); break;
  }
  return resize_to_sizes(img, sizes, p.kernel);
}

}  // namespace mmb
