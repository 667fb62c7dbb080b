#pragma once
// Private to octmnist.cpp and pneumoniamnist.cpp: the folder layout the two
// Kermany et al. 2018 datasets (Mendeley rscbjbr9sj) share, and what is done
// with it (docs/datasets/{octmnist,pneumoniamnist}.md).
//
//   Mendeley V2   OCT2017/{train,test}/<CLASS>/*.jpeg     chest_xray/{train,test}/<CLASS>/*.jpeg
//   Mendeley V3   CellData/OCT/{train,test}/<CLASS>/...   CellData/chest_xray/{train,test}/<CLASS>/...
//   Kaggle        "OCT2017 "/{train,val,test}/... (+ a nested oct2017/ copy)
//                 chest_xray/{train,val,test}/... (+ chest_xray/chest_xray copy, __MACOSX)
//
// A file belongs to the dataset when it lies in <root>/.../<split>/<class>/,
// with <root> one of the manifest's source.root_folders (compared trimmed and
// case-insensitively) and <split> train, val or test. Only the file names
// differ between the two datasets, so each converter passes its NameParser.
// General pieces here that could move to common/: the split-folder lookup
// (SourceSplit), duplicate-copy removal and the numbering-gap report.
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "common/io/class_folders.h"
#include "common/io/csv.h"
#include "common/io/files.h"
#include "common/pipeline/converter.h"

namespace mmb::kermany {

namespace fs = std::filesystem;

// What a file name says (each dataset has its own naming, see its converter).
struct NameParts {
  std::string subject;  // patient id; empty when the name follows no known pattern
  int claimed_label = -1;  // the class the name spells (CNV-..., person1_bacteria_...), -1 if none
  // Per-patient image numbering ("CNV-1016042-" + 3): series empty if the name has none.
  std::string series;
  long number = 0;
  int digits = 0;  // zero-padded width (IM-0115-0001: 4), 0 = not padded
};
using NameParser = std::function<NameParts(const std::string& stem)>;

// How the layout is named in messages: V2's root folder and V3's path.
struct RootNames {
  std::string v2, v3;
};

struct ClassImage {
  fs::path path;
  int label = -1;
  std::string split_folder;  // "train", "val" or "test"
  bool under_cell_data = false;  // Mendeley V3 (CellData/...)
};

inline std::string folder_key(const std::string& name) { return to_lower(trim(name)); }

inline std::vector<std::string> folder_keys(const std::vector<std::string>& names) {
  std::vector<std::string> keys;
  for (const auto& n : names) keys.push_back(folder_key(n));
  return keys;
}

inline bool contains(const std::vector<std::string>& keys, const std::string& name) {
  return std::find(keys.begin(), keys.end(), folder_key(name)) != keys.end();
}

// Every image in a <split>/<class>/ folder below one of the roots (or in the
// source itself when it is a root: --source .../OCT2017). A root is required
// because both datasets have a NORMAL class: CellData/ holds OCT/ and
// chest_xray/ side by side. Class folders outside a split folder are unexpected.
inline std::vector<ClassImage> find_class_images(const fs::path& source, const Manifest& m, Enumeration& e) {
  const auto classes = m.get_strings("source.class_folders", {});
  const auto roots = folder_keys(m.get_strings("source.root_folders", {}));
  const fs::path full = fs::weakly_canonical(source);
  const bool source_is_root = contains(roots, full.filename().string());
  const auto is_cell_data = [](const auto& d) { return folder_key(d.string()) == "celldata"; };
  const bool source_in_cell_data = std::any_of(full.begin(), full.end(), is_cell_data);
  std::vector<ClassImage> images;
  for (const auto& f : find_files_in_class_folders(source, classes, {".jpeg", ".jpg", ".png"})) {
    if (!source_is_root && std::none_of(f.folders.begin(), f.folders.end(), [&](const auto& d) { return contains(roots, d); }))
      continue;  // not this dataset (e.g. the other Kermany dataset's NORMAL folder)
    std::size_t class_at = f.folders.size() - 1;
    while (folder_key(f.folders[class_at]) != folder_key(classes[f.label])) --class_at;
    const std::string split = class_at > 0 ? folder_key(f.folders[class_at - 1]) : "";
    if (split != "train" && split != "val" && split != "test") {
      e.unexpected.push_back(f.path);
      continue;
    }
    const bool v3 = source_in_cell_data || std::any_of(f.folders.begin(), f.folders.end(), [&](const std::string& d) {
                      return is_cell_data(fs::path(d));
                    });
    images.push_back({f.path, f.label, split, v3});
  }
  return images;
}

// Kaggle's zips hold a second copy of the tree (chest_xray/chest_xray,
// oct2017/"OCT2017 "): the same (split, class, file name) twice. Keep the first
// by path.
inline void drop_duplicate_copies(std::vector<ClassImage>& images, const fs::path& source, Enumeration& e) {
  std::map<std::tuple<std::string, int, std::string>, fs::path> first;
  std::vector<ClassImage> kept;
  std::size_t dropped = 0;
  std::string example;
  for (auto& img : images) {
    const auto [it, fresh] = first.emplace(std::tuple{img.split_folder, img.label, img.path.filename().string()}, img.path);
    if (fresh) {
      kept.push_back(std::move(img));
    } else if (dropped++ == 0) {
      example = display_path(img.path, source) + " (kept " + display_path(it->second, source) + ")";
    }
  }
  if (dropped) e.notes.push_back(std::to_string(dropped) + " duplicate copies skipped (same split, class and file name), e.g. " + example);
  images = std::move(kept);
}

// "Mendeley V2", "Mendeley V3" or "Kaggle" (the only one with a val/ folder), joined if mixed.
inline std::string describe_layout(const std::vector<ClassImage>& images, const RootNames& roots) {
  const auto any = [&](auto pred) { return std::any_of(images.begin(), images.end(), pred); };
  const bool kaggle = any([](const ClassImage& i) { return i.split_folder == "val"; });
  std::vector<std::string> seen;
  if (kaggle) seen.push_back("Kaggle (" + roots.v2 + "/{train,val,test}; val joins train)");
  if (!kaggle && any([](const ClassImage& i) { return !i.under_cell_data; }))
    seen.push_back("Mendeley V2 (" + roots.v2 + "/{train,test})");
  if (any([](const ClassImage& i) { return i.under_cell_data; })) seen.push_back("Mendeley V3 (" + roots.v3 + "/{train,test})");
  std::string out;
  for (const auto& s : seen) out += (out.empty() ? "" : " + ") + s;
  return out;
}

// MedMNIST's counts are Mendeley's train (= its train + val) and test folders
// (medmnist/info.py counts: OCT 97,477 + 10,832 = Mendeley's 108,309 train images); Kaggle's
// train/val/test differ, so say so with the numbers.
inline void note_kaggle_counts(Enumeration& e, const Manifest& m, std::size_t val_folder_images) {
  if (val_folder_images == 0) return;
  const std::size_t test = std::count_if(e.samples.begin(), e.samples.end(), [](const Sample& s) { return s.split == Split::Test; });
  const auto official = m.official_counts;
  e.notes.push_back(
      "Kaggle layout: its val/ folder (" + std::to_string(val_folder_images) + " images) joins train here; MedMNIST used the "
      "Mendeley train/test folders (train+val " + std::to_string(official[0] + official[1]) + ", test " +
      std::to_string(official[2]) + "), this source has train+val " + std::to_string(e.samples.size() - test) + ", test " +
      std::to_string(test) + ", so counts can differ from MedMNIST's");
}

// Holes in a patient's image numbers (1..max) name files that may be missing.
// The numbering is only described in the dataset README [S], not verified to be
// gap-free, so by default they are a note; source.numbering_gaps = "missing"
// reports them as missing files (check exits 1).
inline void report_numbering_gaps(const std::map<std::string, std::set<long>>& series,
                                  const std::map<std::string, std::pair<int, std::string>>& format,
                                  const Manifest& m, Enumeration& e) {
  std::vector<std::string> holes;
  for (const auto& [prefix, numbers] : series) {
    const auto& [digits, ext] = format.at(prefix);
    for (long n = 1; n < *numbers.rbegin(); ++n) {
      if (numbers.count(n)) continue;
      std::string num = std::to_string(n);
      if (static_cast<int>(num.size()) < digits) num.insert(0, digits - num.size(), '0');
      holes.push_back(prefix + num + ext);
    }
  }
  if (holes.empty()) return;
  if (m.get_string("source.numbering_gaps", "note") == "missing") {
    e.missing.insert(e.missing.end(), holes.begin(), holes.end());
    e.notes.push_back(std::to_string(holes.size()) + " holes in per-patient image numbers reported as missing (source.numbering_gaps)");
    return;
  }
  std::string names;
  for (std::size_t i = 0; i < holes.size() && i < 10; ++i) names += (i ? ", " : "") + holes[i];
  e.notes.push_back(std::to_string(holes.size()) + " holes in per-patient image numbers (possibly missing files): " + names +
                    (holes.size() > 10 ? ", ..." : ""));
}

inline std::string ratio_text(const std::array<double, 3>& r) {
  std::ostringstream out;
  out << r[0] << ":" << r[1] << ":" << r[2];
  return out.str();
}

// The whole listing: class images -> samples with ids, patients, labels and
// the source's split (test fixed; train and Kaggle's val split by patient).
inline Enumeration enumerate_source(const fs::path& source, const Manifest& m, const NameParser& parse,
                                    const RootNames& roots) {
  Enumeration e;
  auto images = find_class_images(source, m, e);
  if (images.empty()) {
    std::string classes;
    for (const auto& c : m.get_strings("source.class_folders", {})) classes += (classes.empty() ? "" : ",") + c;
    throw InputError(source, "no images in {train,test}/{" + classes + "}/ below " + roots.v2 + "/ or " + roots.v3 +
                                 "/ (a renamed root folder needs --set source.root_folders=[\"NAME\"])");
  }
  drop_duplicate_copies(images, source, e);
  e.layout = describe_layout(images, roots);
  const std::string id_form = m.get_string("source.sample_id", "file_name");  // "file_name" or "stem"
  std::map<std::string, std::set<long>> series;
  std::map<std::string, std::pair<int, std::string>> series_format;
  std::map<std::string, fs::path> by_id;
  std::size_t unparsed = 0, mislabelled = 0, val_folder = 0, shared_ids = 0;
  for (const auto& img : images) {
    const NameParts parts = parse(img.path.stem().string());
    unparsed += parts.subject.empty();
    mislabelled += parts.claimed_label >= 0 && parts.claimed_label != img.label;
    val_folder += img.split_folder == "val";
    if (!parts.series.empty()) {
      series[parts.series].insert(parts.number);
      series_format.emplace(parts.series, std::pair{parts.digits, img.path.extension().string()});
    }
    // train and Kaggle's val are Unassigned: split 9:1 below
    Sample s = folder_sample(sample_id(img.path, id_form, m.file), img.label,
                             img.split_folder == "test" ? Split::Test : Split::Unassigned, img.path, parts.subject);
    shared_ids += !by_id.emplace(s.id, img.path).second;
    e.samples.push_back(std::move(s));
  }
  if (unparsed) e.notes.push_back(std::to_string(unparsed) + " file names follow no known pattern: each is its own split group");
  if (mislabelled) e.notes.push_back(std::to_string(mislabelled) + " file names spell another class than their folder; the folder gives the label");
  if (shared_ids) e.notes.push_back(std::to_string(shared_ids) + " file names occur in two folders: their ids are not unique (an --index-map naming them fails)");
  note_kaggle_counts(e, m, val_folder);
  report_numbering_gaps(series, series_format, m, e);
  const auto r = m.get_numbers("split.ratios", {9, 1, 0});
  e.ratios = {r.at(0), r.at(1), r.at(2)};
  e.split_rule = "source test folder is test; source train" + std::string(val_folder ? " + Kaggle val" : "") +
                 " split into train/val, ratios " + ratio_text(e.ratios);
  return e;
}

// Cheap: a class folder inside a train/test/val folder, a few levels down,
// without listing the (large) class folders themselves.
inline bool has_class_folders(const fs::path& source, const std::vector<std::string>& marker_classes) {
  std::error_code ec;
  if (!fs::is_directory(source, ec)) return false;
  const auto markers = folder_keys(marker_classes);
  for (auto it = fs::recursive_directory_iterator(source, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec) || is_junk_name(it->path().filename().string())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    const std::string parent = folder_key(it->path().parent_path().filename().string());
    const bool in_split = parent == "train" || parent == "test" || parent == "val";
    if (in_split && contains(markers, it->path().filename().string())) return true;
    if (in_split || it.depth() >= 4) it.disable_recursion_pending();
  }
  return false;
}

}  // namespace mmb::kermany
