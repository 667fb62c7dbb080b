#include "common/pipeline/check.h"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "common/io/dicom_series.h"
#include "common/io/files.h"
#include "common/io/image_file.h"
#include "common/io/volume_file.h"
#include "common/pipeline/settings.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

// Image files get the signature and end-marker probe, NIfTI volumes their header
// and stated size, DICOM slices (a file, or a series folder) their header, PixelData
// and its size; other files must at least exist and be non-empty (their readers check the rest).
std::string probe(const fs::path& file, bool deep) {
  const std::string ext = to_lower(file.extension().string());
  const std::string name = to_lower(file.filename().string());
  const bool image = ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".tif" || ext == ".tiff" || ext == ".bmp";
  const bool nifti = name.ends_with(".nii") || name.ends_with(".nii.gz");
  if (deep && (image || nifti)) {
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
  if (nifti) return probe_volume_file(file);
  if (ext == ".dcm") return probe_dicom_file(file);
  if (fs::is_directory(file, ec)) return probe_dicom_folder(file);  // a DICOM series (NoduleMNIST3D)
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
  // Each input once: several samples (nodules of one series, crops of one volume) share a path.
  std::set<fs::path> unique;
  for (const auto& s : e.samples) unique.insert(s.path);
  const std::vector<fs::path> paths(unique.begin(), unique.end());
  std::vector<std::string> reasons(paths.size());
  tbb::parallel_for(std::size_t{0}, paths.size(), [&](std::size_t i) { reasons[i] = probe(paths[i], o.deep_check); });
  for (std::size_t i = 0; i < reasons.size(); ++i)
    if (!reasons[i].empty()) r.unreadable.push_back({display_path(paths[i], o.source), reasons[i]});
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
