#include "common/pipeline/settings.h"

#include <algorithm>
#include <stdexcept>

#include "common/ops/resize.h"

namespace mmb {
namespace {

void check_one_of(const Manifest& m, const std::string& key, const std::vector<std::string>& valid) {
  const auto node = m.table.at_path(key);
  if (!node) return;
  const auto value = node.value<std::string>();
  if (value && std::find(valid.begin(), valid.end(), *value) != valid.end()) return;
  std::string names;
  for (const auto& v : valid) names += (names.empty() ? "" : ", ") + v;
  throw std::invalid_argument(m.file.filename().string() + ": " + key + " = '" + (value ? *value : "?") +
                              "' is not one of " + names);
}

// A kernel setting is a name, or an array or table of names (per size).
void check_kernels(const std::string& key, const toml::node& node, const Manifest& m) {
  if (const auto* arr = node.as_array()) {
    for (const auto& el : *arr) check_kernels(key, el, m);
  } else if (const auto* table = node.as_table()) {
    for (const auto& [k, v] : *table) check_kernels(key + "." + std::string(k.str()), v, m);
  } else if (const auto name = node.value<std::string>()) {
    try {
      parse_resize_kernel(*name);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(m.file.filename().string() + ": " + key + ": " + e.what());
    }
  } else {
    throw std::invalid_argument(m.file.filename().string() + ": " + key + " must name a resize kernel");
  }
}

}  // namespace

void validate_settings(const Manifest& m) {
  if (const auto* pre = m.table["preprocess"].as_table())
    for (const auto& [k, v] : *pre)
      if (k.str().rfind("resize_kernel", 0) == 0) check_kernels("preprocess." + std::string(k.str()), v, m);
  // "patient" is how two manifests name their subjects; any value but "none" groups.
  check_one_of(m, "split.group", {"subject", "patient", "none"});
  if (m.dim == 2) check_one_of(m, "preprocess.crop", {"none", "center_square", "center"});
}

}  // namespace mmb
