#include "common/core/limits.h"

#include <charconv>
#include <stdexcept>

namespace mmb {
namespace {

InputLimits g_limits;

struct Field {
  const char* name;
  std::uint64_t InputLimits::*value;
};

constexpr Field kFields[] = {{"image_pixels", &InputLimits::image_pixels},
                             {"nifti_voxel_bytes", &InputLimits::nifti_voxel_bytes},
                             {"montage_bytes", &InputLimits::montage_bytes}};

std::uint64_t parse_positive(const std::string& name, const std::string& text) {
  const bool power = text.starts_with("2^");
  const char* first = text.data() + (power ? 2 : 0);
  const char* last = text.data() + text.size();
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(first, last, v);
  const bool ok = ec == std::errc{} && end == last && first != last && (power ? v < 64 : v > 0);
  if (!ok) throw std::invalid_argument("--limit " + name + " expects a positive integer or 2^N, got '" + text + "'");
  return power ? std::uint64_t{1} << v : v;
}

}  // namespace

const InputLimits& input_limits() { return g_limits; }

void set_input_limits(const InputLimits& limits) { g_limits = limits; }

const std::vector<std::string>& input_limit_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& f : kFields) out.push_back(f.name);
    return out;
  }();
  return names;
}

void apply_input_limit(InputLimits& limits, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos) throw std::invalid_argument("--limit expects NAME=VALUE, got '" + assignment + "'");
  const std::string name = assignment.substr(0, eq);
  for (const auto& f : kFields)
    if (name == f.name) {
      limits.*f.value = parse_positive(name, assignment.substr(eq + 1));
      return;
    }
  std::string known;
  for (const auto& n : input_limit_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown limit '" + name + "' (limits: " + known + ")");
}

}  // namespace mmb
