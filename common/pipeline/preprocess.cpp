#include "common/pipeline/preprocess.h"

#include <stdexcept>
#include <string>

#include "common/ops/geometry.h"

namespace mmb {

namespace {

ResizeKernel kernel_named(const Manifest& m, const std::string& key, const std::string& name) {
  try {
    return parse_resize_kernel(name);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(m.file.string() + ": " + key + ": " + e.what());
  }
}

// A single resize_kernel wins over the per-size table, so that
// --set preprocess.resize_kernel=NAME changes every size as it always did.
void read_kernels(const Manifest& m, PreprocessParams& p) {
  const std::string single = m.get_string("preprocess.resize_kernel", "");
  if (!single.empty()) {
    p.kernel = kernel_named(m, "preprocess.resize_kernel", single);
    return;
  }
  const toml::node* node = m.table.at_path("preprocess.resize_kernel_by_size").node();
  if (!node) return;
  const toml::table* by_size = node->as_table();
  if (!by_size) throw std::runtime_error(m.file.string() + ": preprocess.resize_kernel_by_size must be a table");
  for (const auto& [key, value] : *by_size) {
    const std::string size_text(key.str());
    const std::string where = "preprocess.resize_kernel_by_size." + size_text;
    int size = 0;
    try {
      std::size_t used = 0;
      size = std::stoi(size_text, &used);
      if (used != size_text.size() || size < 1) throw std::invalid_argument(size_text);
    } catch (const std::exception&) {
      throw std::runtime_error(m.file.string() + ": " + where + ": the key must be an image size");
    }
    const auto name = value.value<std::string>();
    if (!name) throw std::runtime_error(m.file.string() + ": " + where + " must be a kernel name");
    p.kernel_by_size[size] = kernel_named(m, where, *name);
  }
}

}  // namespace

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
  read_kernels(m, p);
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
  // One resize_to_sizes per kernel (sizes sharing a kernel share its passes), in the caller's order.
  std::vector<Image> out(sizes.size());
  std::vector<bool> done(sizes.size(), false);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (done[i]) continue;
    const ResizeKernel kernel = p.kernel_for(sizes[i]);
    std::vector<std::size_t> group;
    std::vector<int> group_sizes;
    for (std::size_t j = i; j < sizes.size(); ++j)
      if (!done[j] && p.kernel_for(sizes[j]) == kernel) group.push_back(j), group_sizes.push_back(sizes[j]);
    auto images = resize_to_sizes(img, group_sizes, kernel);
    for (std::size_t g = 0; g < group.size(); ++g) out[group[g]] = std::move(images[g]), done[group[g]] = true;
  }
  return out;
}

}  // namespace mmb
