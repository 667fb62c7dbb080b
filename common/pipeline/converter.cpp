#include "common/pipeline/converter.h"

#include <stdexcept>

#include "common/core/error.h"
#include "common/pipeline/preprocess.h"

namespace mmb {

Enumeration Converter::enumerate_all(const std::filesystem::path& source,
                                     const std::vector<const Manifest*>& manifests) const {
  for (const Manifest* m : manifests)
    if (m) return enumerate(source, *m);
  throw std::logic_error(flag() + ": enumerate_all without a manifest");
}

std::unique_ptr<UnitData> Converter::read_unit(const Sample&, const Manifest&) const { return nullptr; }

namespace {

// [source] min_size / max_size = [width, height]: where the manifest states the range of
// the source's image sizes, a sample outside it (a 1x1 or 37x5 image where the source's
// are 600x450) is an input error, skippable like any other, not silently resized.
void check_source_size(const Image& img, const Manifest& m, const Sample& s) {
  const auto min = m.get_numbers("source.min_size", {}), max = m.get_numbers("source.max_size", {});
  const bool below = min.size() == 2 && (img.width < min[0] || img.height < min[1]);
  const bool above = max.size() == 2 && (img.width > max[0] || img.height > max[1]);
  if (!below && !above) return;
  const auto pair = [](const std::vector<double>& v) {
    return v.size() == 2 ? std::to_string(static_cast<long>(v[0])) + "x" + std::to_string(static_cast<long>(v[1])) : std::string("-");
  };
  throw InputError(s.path, "image is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                               ", outside the source's size range " + pair(min) + " .. " + pair(max) +
                               " ([source] min_size/max_size in " + m.file.filename().string() + ")");
}

}  // namespace

std::vector<Image> Converter::render(const Sample& sample, const Manifest& manifest, const std::vector<int>& sizes,
                                     const UnitData*) const {
  Image img = load(sample, manifest);
  check_source_size(img, manifest, sample);
  return preprocess(std::move(img), preprocess_params(manifest), sizes);
}

}  // namespace mmb
