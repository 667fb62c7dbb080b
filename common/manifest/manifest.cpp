#include "common/manifest/manifest.h"

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mmb {
namespace {

constexpr int kMaxEdge = 65536;  // far past any MedMNIST+ size (224), far below int overflow

[[noreturn]] void fail(const Manifest& m, const std::string& why) {
  throw std::runtime_error(m.file.string() + ": " + why);
}

std::string toml_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

template <typename T>
T required(const Manifest& m, const std::string& key) {
  auto node = m.table.at_path(key);
  if (!node) fail(m, "missing required key '" + key + "'");
  auto value = node.value<T>();
  if (!value) fail(m, "key '" + key + "' has the wrong type");
  return *value;
}

void read_dataset_section(Manifest& m) {
  m.flag = required<std::string>(m, "dataset.flag");
  m.python_class = required<std::string>(m, "dataset.python_class");
  m.task = required<std::string>(m, "dataset.task");
  m.license = required<std::string>(m, "dataset.license");
  m.description = m.get_string("dataset.description", "");
  m.dim = static_cast<int>(required<int64_t>(m, "dataset.dim"));
  m.n_channels = static_cast<int>(required<int64_t>(m, "dataset.n_channels"));
  m.sizes.clear();
  for (double s : m.get_numbers("dataset.sizes", {})) {
    // an edge length in pixels; checked before the cast (1e300 would be undefined behaviour)
    if (!(s >= 1 && s <= kMaxEdge) || s != std::floor(s))
      fail(m, "dataset.sizes holds " + toml_number(s) + "; sizes are whole numbers from 1 to " + std::to_string(kMaxEdge));
    m.sizes.push_back(static_cast<int>(s));
  }
  m.labels = m.get_strings("dataset.labels", {});
  const char* names[3] = {"train", "val", "test"};
  for (int i = 0; i < 3; ++i)
    m.official_counts[i] = static_cast<std::size_t>(required<int64_t>(m, std::string("dataset.n_samples.") + names[i]));
  m.label_width = m.task.rfind("multi-label", 0) == 0 ? m.labels.size() : 1;
}

void validate(const Manifest& m) {
  if (m.labels.empty()) fail(m, "dataset.labels is empty");
  if (m.sizes.empty()) fail(m, "dataset.sizes is empty");
  if (m.dim != 2 && m.dim != 3) fail(m, "dataset.dim must be 2 or 3");
  if (m.n_channels != 1 && m.n_channels != 3) fail(m, "dataset.n_channels must be 1 or 3");
  if (m.file.stem() != m.flag) fail(m, "file name does not match dataset.flag '" + m.flag + "'");
}

// Walks "a.b.c" creating tables, returning the parent table and the last key.
std::pair<toml::table*, std::string> parent_of(toml::table& root, const std::string& dotted) {
  toml::table* t = &root;
  std::string::size_type start = 0, dot;
  while ((dot = dotted.find('.', start)) != std::string::npos) {
    const std::string part = dotted.substr(start, dot - start);
    auto* child = (*t)[part].as_table();
    if (!child) child = t->insert_or_assign(part, toml::table{}).first->second.as_table();
    t = child;
    start = dot + 1;
  }
  return {t, dotted.substr(start)};
}

bool same_kind(const toml::node& a, const toml::node& b) {
  if (a.is_number() && b.is_number()) return true;
  return a.type() == b.type();
}

const char* kind_name(const toml::node& n) {
  if (n.is_number()) return "a number";
  if (n.is_string()) return "a string";
  if (n.is_boolean()) return "true or false";
  if (n.is_array()) return "an array";
  if (n.is_table()) return "a table";
  return "a value";
}

}  // namespace

const std::vector<std::string>& known_setting_keys() {
  static const std::vector<std::string> keys = {
      "dataset.description", "preprocess.blank", "preprocess.crop", "preprocess.crop_mm", "preprocess.crop_nm",
      "preprocess.crop_size", "preprocess.crop_voxels", "preprocess.fill_hu", "preprocess.keep_largest_component",
      "preprocess.large_sizes", "preprocess.margin_voxels", "preprocess.mask_threshold",
      "preprocess.max_hole_radius", "preprocess.outside_fill", "preprocess.resize_kernel",
      "preprocess.roi_interpolation", "preprocess.slice_range", "preprocess.slice_step",
      "preprocess.weld_tolerance", "preprocess.window_level", "preprocess.window_width", "source.class_folders",
      "source.class_labels", "source.class_prefixes.", "source.data_entry", "source.dx_codes",
      "source.expected_list", "source.findings", "source.first_label", "source.ground_truth",
      "source.include_swapped", "source.label_column", "source.label_folders", "source.label_names",
      "source.labels_csv", "source.layout", "source.lesion_groupings", "source.malignancy", "source.max_crop_voxels", "source.min_size", "source.max_size",
      "source.metadata_names", "source.min_readers", "source.mode_tie", "source.numbering_gaps",
      "source.root_folders", "source.sample_id", "source.slice_step_tolerance", "source.swapped_axes",
      "source.train_set", "source.training_csv", "source.validation_csv", "source.voxel_scale",
      "source.voxel_shape", "source.waiting_crops_mb", "source.xu_organs", "split.group", "split.ratios",
      "split.rule", "split.seed", "split.train_val_ratios", "split.volume_ratios",
      // keys added with the per-class split, Chest label choice, Organ slice grid and Fracture crop space
      "preprocess.crop_space", "preprocess.slice_grid", "preprocess.slice_grid_mm", "preprocess.slice_grid_scale",
      "source.labels", "split.drop_blank", "split.method", "split.train_ids", "split.val_ids", "split.test_ids"};
  return keys;
}

bool is_known_setting_key(const std::string& key) {
  if (key.rfind("preprocess.resize_kernel", 0) == 0) return true;
  for (const auto& k : known_setting_keys())
    if (k.back() == '.' ? key.rfind(k, 0) == 0 && key.size() > k.size() : key == k) return true;
  return false;
}

std::string Manifest::get_string(const std::string& key, const std::string& fallback) const {
  auto node = table.at_path(key);
  if (!node) return fallback;
  if (auto v = node.value<std::string>()) return *v;
  fail(*this, "key '" + key + "' should be a string");
}

double Manifest::get_number(const std::string& key, double fallback) const {
  auto node = table.at_path(key);
  if (!node) return fallback;
  if (auto v = node.value<double>()) return *v;
  fail(*this, "key '" + key + "' should be a number");
}

std::int64_t Manifest::get_integer(const std::string& key, std::int64_t fallback, std::int64_t lo,
                                   std::int64_t hi) const {
  auto node = table.at_path(key);
  if (!node) return fallback;
  const auto range = " from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (auto i = node.as_integer()) {
    if (i->get() < lo || i->get() > hi) fail(*this, "key '" + key + "' is " + std::to_string(i->get()) + "; it must be" + range);
    return i->get();
  }
  auto d = node.value<double>();
  if (!d) fail(*this, "key '" + key + "' should be a whole number");
  // compare as double before casting: out-of-range doubles must never reach the cast
  const bool fits_int64 = *d >= -0x1p63 && *d < 0x1p63;  // (double)INT64_MAX rounds up to 2^63
  if (!fits_int64 || *d < static_cast<double>(lo) || *d > static_cast<double>(hi) || *d != std::floor(*d))
    fail(*this, "key '" + key + "' is " + toml_number(*d) + "; it must be a whole number" + range);
  return static_cast<std::int64_t>(*d);
}

bool Manifest::get_bool(const std::string& key, bool fallback) const {
  auto node = table.at_path(key);
  if (!node) return fallback;
  if (auto v = node.value<bool>()) return *v;
  fail(*this, "key '" + key + "' should be true or false");
}

std::vector<double> Manifest::get_numbers(const std::string& key, std::vector<double> fallback) const {
  auto node = table.at_path(key);
  if (!node) return fallback;
  const auto* arr = node.as_array();
  if (!arr) fail(*this, "key '" + key + "' should be an array of numbers");
  std::vector<double> out;
  for (const auto& el : *arr) {
    auto v = el.value<double>();
    if (!v) fail(*this, "key '" + key + "' should be an array of numbers");
    out.push_back(*v);
  }
  return out;
}

std::vector<std::string> Manifest::get_strings(const std::string& key, std::vector<std::string> fallback) const {
  auto node = table.at_path(key);
  if (!node) return fallback;
  const auto* arr = node.as_array();
  if (!arr) fail(*this, "key '" + key + "' should be an array of strings");
  std::vector<std::string> out;
  for (const auto& el : *arr) {
    auto v = el.value<std::string>();
    if (!v) fail(*this, "key '" + key + "' should be an array of strings");
    out.push_back(*v);
  }
  return out;
}

void Manifest::apply_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument("--set expects key=value, got '" + assignment + "'");
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  const auto declared = table.at_path(key);
  if (!declared && !is_known_setting_key(key))
    throw std::invalid_argument("--set: unknown key '" + key + "' (" + file.filename().string() +
                                " does not declare it and the tool reads no such setting)");
  if (declared && declared.is_table())
    throw std::invalid_argument("--set: '" + key + "' is a table in " + file.filename().string() + "; set one of its keys");
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + text);
  } catch (const toml::parse_error&) {
    parsed.insert_or_assign("v", text);  // a bare word: keep it as a string
  }
  if (declared && !same_kind(*declared.node(), *parsed.get("v")))
    throw std::invalid_argument("--set: '" + key + "' must be " + kind_name(*declared.node()) + " as in " +
                                file.filename().string() + ", got '" + text + "'");
  auto [parent, last] = parent_of(table, key);
  parent->insert_or_assign(last, std::move(*parsed.get("v")));
  read_dataset_section(*this);
}

std::string Manifest::to_json() const {
  std::ostringstream out;
  out << toml::json_formatter{table};
  return out.str();
}

Manifest load_manifest(const fs::path& file) {
  Manifest m;
  m.file = file;
  try {
    m.table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream why;
    why << "invalid TOML at line " << e.source().begin.line << ": " << e.description();
    fail(m, why.str());
  }
  read_dataset_section(m);
  validate(m);
  return m;
}

fs::path default_manifest_dir() {
  if (const char* env = std::getenv("MEDMNIST_BUILD_MANIFESTS")) return env;
  return fs::path(MMB_SOURCE_DIR) / "manifests";
}

Manifest load_manifest_for(const std::string& flag, const fs::path& dir) {
  const fs::path file = dir / (flag + ".toml");
  if (!fs::exists(file)) throw std::runtime_error(file.string() + ": no manifest for dataset '" + flag + "'");
  return load_manifest(file);
}

}  // namespace mmb
