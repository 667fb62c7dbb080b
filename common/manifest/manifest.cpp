#include "common/manifest/manifest.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mmb {
namespace {

[[noreturn]] void fail(const Manifest& m, const std::string& why) {
  throw std::runtime_error(m.file.string() + ": " + why);
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
  for (double s : m.get_numbers("dataset.sizes", {})) m.sizes.push_back(static_cast<int>(s));
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

}  // namespace

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
  auto [parent, last] = parent_of(table, key);
  try {
    auto parsed = toml::parse("v = " + text);
    parent->insert_or_assign(last, std::move(*parsed.get("v")));
  } catch (const toml::parse_error&) {
    parent->insert_or_assign(last, text);  // a bare word: keep it as a string
  }
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
