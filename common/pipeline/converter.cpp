#include "common/pipeline/converter.h"

#include <stdexcept>

#include "common/pipeline/preprocess.h"

namespace mmb {

Enumeration Converter::enumerate_all(const std::filesystem::path& source,
                                     const std::vector<const Manifest*>& manifests) const {
  for (const Manifest* m : manifests)
    if (m) return enumerate(source, *m);
  throw std::logic_error(flag() + ": enumerate_all without a manifest");
}

std::unique_ptr<UnitData> Converter::read_unit(const Sample&, const Manifest&) const { return nullptr; }

std::vector<Image> Converter::render(const Sample& sample, const Manifest& manifest, const std::vector<int>& sizes,
                                     const UnitData*) const {
  return preprocess(load(sample, manifest), preprocess_params(manifest), sizes);
}

}  // namespace mmb
