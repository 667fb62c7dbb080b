#pragma once
// `check`: validates a source tree without writing anything.
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/manifest/manifest.h"
#include "common/pipeline/build.h"
#include "common/pipeline/converter.h"

namespace mmb {

struct CheckReport {
  std::string layout;
  std::string split_rule;
  std::vector<std::string> missing;     // named by a label file, absent
  std::vector<std::string> unexpected;  // present, in no label file
  std::vector<Problem> unreadable;      // present but truncated/corrupt (cheap probe)
  std::vector<Problem> problems;        // malformed label rows and the like
  std::vector<std::string> notes;
  std::array<std::size_t, 3> counts{};  // after the split rule
  std::array<std::size_t, 3> official{};
  bool ok() const { return missing.empty() && unreadable.empty() && problems.empty(); }
};

CheckReport check_source(const Converter& converter, const Manifest& manifest, const BuildOptions& options);
std::string format_check_report(const Manifest& manifest, const CheckReport& report);

}  // namespace mmb
