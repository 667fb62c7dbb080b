// The one list of converters. Adding a dataset: write converters/<flag>.cpp
// with a make_<flag>_converter() factory, add it here, add manifests/<flag>.toml.
#include "common/pipeline/converter.h"

namespace mmb {

std::unique_ptr<Converter> make_chestmnist_converter();

const std::vector<std::unique_ptr<Converter>>& all_converters() {
  static const auto converters = [] {
    std::vector<std::unique_ptr<Converter>> list;
    list.push_back(make_chestmnist_converter());
    return list;
  }();
  return converters;
}

const Converter* find_converter(const std::string& flag) {
  for (const auto& c : all_converters())
    for (const auto& f : c->flags())
      if (f == flag) return c.get();
  return nullptr;
}

}  // namespace mmb
