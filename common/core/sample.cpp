#include "common/core/sample.h"

#include <algorithm>
#include <stdexcept>

namespace mmb {

const char* split_name(Split s) {
  switch (s) {
    case Split::Train: return "train";
    case Split::Val: return "val";
    case Split::Test: return "test";
    case Split::Unassigned: break;
  }
  return "unassigned";
}

Split parse_split(const std::string& text) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "train" || t == "training") return Split::Train;
  if (t == "val" || t == "valid" || t == "validation") return Split::Val;
  if (t == "test" || t == "testing") return Split::Test;
  throw std::invalid_argument("unknown split '" + text + "' (expected train, val or test)");
}

}  // namespace mmb
