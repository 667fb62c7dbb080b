#include "common/pipeline/check.h"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "common/io/files.h"
#include "common/io/image_file.h"
#include "common/io/volume_file.h"
#include "common/pipeline/settings.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

// Image files get the signature and end-marker probe; other files must at
// least exist and be non-empty (their readers check the rest).
std::string probe(const fs::path& file, bool deep) {
  const std::string ext = to_lower(file.extension().string());
  const std::string name = to_lower(file.filename().string());
  const bool image = ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".tif" || ext == ".tiff" || ext == ".bmp";
  if (deep && (image || name.ends_with(".nii") || name.ends_with(".nii.gz"))) {
    // --deep: decode what build decodes (a PNG with corrupt compressed data passes the quick probe).
    try {
      if (image) read_image_file(file);
      else read_volume_file(file);
      return "";
    } catch (const InputError& e) {
      return e.reason();
    }
  }
  if (image) return probe_image_file(file);
  std::error_code ec;
  if (!fs::exists(file, ec)) return "file is missing";
  if (fs::is_regular_file(file, ec) && fs::file_size(file, ec) == 0) return "empty file";
  return "";
}

}  // namespace

CheckReport check_source(const Converter& c, const Manifest& m, const BuildOptions& o) {
  CheckReport r;
  validate_settings(m);
  const auto flags = c.flags();
  std::vector<const Manifest*> requested(flags.size(), nullptr);
  requested[std::find(flags.begin(), flags.end(), m.flag) - flags.begin()] = &m;
  Enumeration e = enumerate_requested(c, requested, o.source);
  r.layout = e.layout;
  r.missing = e.missing;
  for (const auto& p : e.unexpected) r.unexpected.push_back(display_path(p, o.source));
  r.problems = e.problems;
  r.notes = e.notes;
  for (const auto& q : e.quirks) r.notes.push_back("known source quirk, skipped by build (--strict stops): " + q.message());
  std::vector<std::string> reasons(e.samples.size());
  tbb::parallel_for(std::size_t{0}, e.samples.size(), [&](std::size_t i) { reasons[i] = probe(e.samples[i].path, o.deep_check); });
  std::set<fs::path> reported;
  for (std::size_t i = 0; i < reasons.size(); ++i)
    if (!reasons[i].empty() && reported.insert(e.samples[i].path).second)
      r.unreadable.push_back({display_path(e.samples[i].path, o.source), reasons[i]});
  SplitPlan plan = plan_splits(std::move(e), m, o);
  r.split_rule = plan.rule;
  // Folder datasets have no label file; an index map (or list files) names what should be there.
  for (const auto& id : plan.not_in_source) r.missing.push_back(id + " (named by the split map or lists)");
  for (const auto& s : plan.samples) ++r.counts[static_cast<int>(s.split)];
  r.official = m.official_counts;
  return r;
}

std::string format_check_report(const Manifest& m, const CheckReport& r) {
  std::ostringstream out;
  out << m.flag << ": layout: " << r.layout << "\n" << m.flag << ": split rule: " << r.split_rule << "\n";
  for (const auto& n : r.notes) out << "note: " << n << "\n";
  for (const auto& p : r.problems) out << "problem: " << p.message() << "\n";
  for (const auto& x : r.missing) out << "missing: " << x << "\n";
  for (const auto& x : r.unexpected) out << "unexpected: " << x << "\n";
  for (const auto& p : r.unreadable) out << "unreadable: " << p.message() << "\n";
  const char* names[3] = {"train", "val", "test"};
  for (int i = 0; i < 3; ++i)
    out << "count " << names[i] << ": " << r.counts[i] << " (MedMNIST: " << r.official[i] << ")"
        << (r.counts[i] == r.official[i] ? "" : "  <- differs") << "\n";
  out << m.flag << ": " << r.missing.size() << " missing, " << r.unexpected.size() << " unexpected, "
      << r.unreadable.size() << " unreadable, " << r.problems.size() << " malformed entries\n";
  return out.str();
}

}  // namespace mmb
