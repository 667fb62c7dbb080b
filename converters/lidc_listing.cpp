// What the NoduleMNIST3D listing reports; see lidc_listing.h.
#include "converters/lidc_listing.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/io/files.h"

namespace fs = std::filesystem;

namespace mmb::lidc {

void ListingTally::count_ingest(const ReadMessage& m) {
  without_characteristics += m.without_characteristics, bad_characteristic += m.bad_characteristic;
  single_point_rois += m.single_point_rois, without_contours += m.without_contours;
}

std::map<std::string, ReadMessage> read_messages(const fs::path& source, Enumeration& e, ListingTally& t) {
  std::map<std::string, ReadMessage> by_series;
  for (const auto& xml : find_files_with_extension(source, {".xml"})) {
    ReadMessage msg;
    try {
      msg = read_lidc_xml(xml);
    } catch (const InputError& err) {
      e.problems.push_back({display_path(err.path(), source), err.reason()});
      continue;
    }
    if (msg.kind != MessageKind::LidcRead) {
      ++(msg.kind == MessageKind::IdriRead ? t.idri : t.other_xml);
      continue;
    }
    auto [it, fresh] = by_series.try_emplace(msg.series_uid, msg);
    if (fresh) continue;
    const bool replace = xml.filename().string().find("resubmitted") != std::string::npos;
    e.notes.push_back("two XMLs for series " + msg.series_uid + ": using " +
                      display_path(replace ? xml : it->second.file, source));
    if (replace) it->second = std::move(msg);
  }
  return by_series;
}

void report_missing_slices(const DicomSeries& series, const ReadMessage& msg, const fs::path& source, Enumeration& e) {
  std::set<std::string> known;
  std::vector<double> slice_z;
  for (const auto* list : {&series.slices, &series.duplicates})
    for (const auto& s : *list) known.insert(s.sop_uid), slice_z.push_back(s.z());
  // pylidc finds a roi's slice by its exact z (populate.py's z_to_dcm_path), never by the
  // SOP UID; so a roi is only missing its slice when neither matches.
  const auto has_z = [&](double z) {
    return std::any_of(slice_z.begin(), slice_z.end(), [&](double s) { return std::abs(s - z) < 1e-3; });
  };
  for (const auto& n : msg.nodules)
    for (const auto& roi : n.rois)
      if (!roi.sop_uid.empty() && !has_z(roi.z) && known.insert(roi.sop_uid).second)
        e.missing.push_back(display_path(series.folder, source) + ": the slice with SOPInstanceUID " + roi.sop_uid +
                            " (z = " + std::to_string(roi.z) + ", named by " + display_path(msg.file, source) + ":" +
                            std::to_string(roi.line) + ")");
}

void report_tally(const ListingTally& t, Enumeration& e) {
  e.notes.push_back("pylidc ingest rules left out " + std::to_string(t.without_characteristics) +
                    " reader nodules without characteristics (< 3 mm), " + std::to_string(t.bad_characteristic) +
                    " with a '0' or empty characteristic, " + std::to_string(t.without_contours) +
                    " without contours, and " + std::to_string(t.single_point_rois) + " single-point rois");
  e.notes.push_back(std::to_string(t.clusters) + " nodules (clusters); " + std::to_string(t.indeterminate) +
                    " with consensus malignancy 3 dropped (info.py: level 3 dropped); " +
                    std::to_string(t.too_few_readers) + " marked by fewer than source.min_readers readers");
  if (t.idri || t.other_xml)
    e.notes.push_back(std::to_string(t.idri) + " IdriReadMessage XML (radiograph reads) and " +
                      std::to_string(t.other_xml) + " other XML files ignored");
}

}  // namespace mmb::lidc
