#pragma once
// A dataset's facts, read from manifests/<flag>.toml with toml++: the official
// metadata (copied from medmnist's INFO), the source, the preprocessing
// parameters and the split rule. Code never repeats these numbers.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace mmb {

struct Manifest {
  std::filesystem::path file;
  toml::table table;  // the whole file, after --set overrides

  // [dataset]
  std::string flag, python_class, task, license, description;
  int dim = 2;
  int n_channels = 1;
  std::vector<int> sizes;
  std::vector<std::string> labels;              // index -> name
  std::array<std::size_t, 3> official_counts{};  // train, val, test
  std::size_t label_width = 1;                  // 1, or the number of labels for multi-label

  // Typed access to any dotted key ("preprocess.crop"); the default is returned
  // when the key is absent, and a wrong type throws std::runtime_error naming it.
  std::string get_string(const std::string& key, const std::string& fallback) const;
  double get_number(const std::string& key, double fallback) const;
  // A whole number in [lo, hi] (a TOML integer, or a float with no fraction); anything else
  // throws naming the key, so no out-of-range value reaches an integer cast.
  std::int64_t get_integer(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::vector<double> get_numbers(const std::string& key, std::vector<double> fallback) const;
  std::vector<std::string> get_strings(const std::string& key, std::vector<std::string> fallback) const;

  // "key=value" from the command line; value is parsed as TOML, else kept as a string.
  // The key must be one the manifest file declares or one the tool reads
  // (known_setting_keys), and a declared key keeps its type; otherwise
  // std::invalid_argument (a typo never passes silently).
  void apply_override(const std::string& assignment);
  std::string to_json() const;
};

// Keys the converters and the pipeline read with a default, so a manifest may leave
// them out and --set may still set them. A key ending in '.' is a prefix
// ("source.class_prefixes." + class name); every preprocess.resize_kernel* key is a
// kernel setting (one per size, say).
const std::vector<std::string>& known_setting_keys();
bool is_known_setting_key(const std::string& key);

// Parses and validates (required keys, label count vs task). Throws
// std::runtime_error naming the file and the problem.
Manifest load_manifest(const std::filesystem::path& file);

// Where manifests live: $MEDMNIST_BUILD_MANIFESTS, else the source tree's manifests/.
std::filesystem::path default_manifest_dir();
Manifest load_manifest_for(const std::string& flag, const std::filesystem::path& dir = default_manifest_dir());

}  // namespace mmb
