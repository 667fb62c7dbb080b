// PathMNIST <- Kather NCT-CRC-HE-100K + CRC-VAL-HE-7K, Zenodo 1214456 (docs/datasets/pathmnist.md).
//
// Recipe: every .tif in a class folder (ADI BACK DEB LYM MUC MUS NORM STR TUM = labels 0..8),
// found at any depth because the zips nest their folders differently. The set a file belongs to
// is the innermost folder on its path named after a Zenodo zip: NCT-CRC-HE-100K -> train/val,
// CRC-VAL-HE-7K -> test. RGB 224x224, no crop: at 224 the source pixels pass through unchanged.
// Split: CRC-VAL-HE-7K is the test set; NCT-CRC-HE-100K is split 9:1, image by image (no
// patient ids). The unnormalised NCT-CRC-HE-100K-NONORM is refused unless chosen.
#include <algorithm>
#include <map>

#include "common/io/class_folders.h"
#include "common/io/files.h"
#include "common/io/image_file.h"
#include "common/pipeline/converter.h"
#include "common/split/split.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

// The three Zenodo 1214456 zips. MedMNIST names "NCT-CRC-HE-100K", the
// Macenko-normalised set [V: info.py]; -NONORM holds the same patches unnormalised.
const std::string kNormalised = "NCT-CRC-HE-100K";
const std::string kUnnormalised = "NCT-CRC-HE-100K-NONORM";
const std::string kTestSet = "CRC-VAL-HE-7K";

// Sample::id as MedMNIST's index map most plausibly names it: the file name, or the stem
// when source.sample_id = "stem" (unverified).
std::string sample_id(const fs::path& file, const Manifest& m) {
  return mmb::sample_id(file, m.get_string("source.sample_id", "file_name"), m.file);
}

// ---- Kather ----

// Which Zenodo zip a folder is named after ("" if none); the names are matched case-insensitively.
std::string zip_named(const std::string& folder) {
  for (const auto* set : {&kNormalised, &kUnnormalised, &kTestSet})
    if (to_lower(folder) == to_lower(*set)) return *set;
  return "";
}

struct SetFolder {
  std::string set;     // kNormalised, kUnnormalised, kTestSet, or "" (none)
  fs::path folder;     // the folder named after it
};

// The set the source folder itself lies in, so --source may point into one set.
SetFolder set_of_source(const fs::path& source) {
  SetFolder found;
  fs::path p;
  for (const auto& part : fs::absolute(source).lexically_normal())
    if (auto set = zip_named((p /= part).filename().string()); !set.empty()) found = {set, p};
  return found;
}

// The innermost folder on the file's path named after a zip: the zips nest their folders
// differently (docs/datasets/pathmnist.md), but every copy keeps the zip's name somewhere above the class.
SetFolder set_of(const fs::path& source, const ClassFile& file, const SetFolder& source_set) {
  SetFolder found = source_set;
  fs::path p = source;
  for (const auto& folder : file.folders) {
    p /= folder;
    if (auto set = zip_named(folder); !set.empty()) found = {set, p};
  }
  return found;
}

std::string chosen_train_set(const Manifest& m) {
  const std::string set = m.get_string("source.train_set", kNormalised);
  if (set != kNormalised && set != kUnnormalised)
    throw std::runtime_error(m.file.string() + ": source.train_set must be \"" + kNormalised + "\" or \"" +
                             kUnnormalised + "\", got '" + set + "'");
  return set;
}

// True when a folder named after one of the zips lies within two levels of the source.
bool has_set_folder(const fs::path& folder, int depth) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (!entry.is_directory(ec)) continue;
    const std::string name = entry.path().filename().string();
    if (!zip_named(name).empty()) return true;
    if (depth > 0 && !is_junk_name(name) && has_set_folder(entry.path(), depth - 1)) return true;
  }
  return false;
}

class Kather final : public Converter {
 public:
  std::string flag() const override { return "pathmnist"; }
  std::string source_summary() const override {
    return "Kather (Zenodo 1214456): NCT-CRC-HE-100K/[NCT-CRC-HE-100K/]<CLASS>/*.tif + CRC-VAL-HE-7K/<CLASS>/*.tif";
  }
  bool identify(const fs::path& source) const override { return has_set_folder(source, 2); }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    const std::string train_set = chosen_train_set(m);
    const auto classes = m.get_strings("source.class_folders", {});
    const auto files = find_files_in_class_folders(source, classes, {".tif", ".tiff"});
    std::map<std::string, fs::path> unused_sets;  // set name -> a folder of it
    std::size_t outside = 0;
    const SetFolder source_set = set_of_source(source);
    for (const auto& f : files) {
      const auto [set, set_folder] = set_of(source, f, source_set);
      if (set == train_set) {
        e.samples.push_back(folder_sample(sample_id(f.path, m), f.label, Split::Unassigned, f.path));
      } else if (set == kTestSet) {
        e.samples.push_back(folder_sample(sample_id(f.path, m), f.label, Split::Test, f.path));
      } else if (!set.empty()) {
        unused_sets.emplace(set, set_folder);
      } else {
        ++outside;
        e.unexpected.push_back(f.path);
      }
    }
    refuse_unnormalised_only(train_set, unused_sets, e);
    if (e.samples.empty())
      throw InputError(source, "no .tif in a class folder (" + classes.front() + ", ...) inside " + kNormalised +
                                   " or " + kTestSet);
    describe(train_set, unused_sets, outside, e);
    report_class_folders(source, classes, e);  // a deleted or an unknown class folder
    drop_duplicate_ids(source, e);
    compare_with_expected_list(m.get_string("source.expected_list", ""), e);  // folders leave no trace of a deleted image
    const auto r = m.get_numbers("split.ratios", {9, 1, 0});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = kTestSet + " is test; " + train_set + " split 9:1 into train/val, image by image";
    return e;
  }

  Image load(const Sample& s, const Manifest&) const override { return read_image_file(s.path); }

 private:
  // MedMNIST used the normalised set; building from -NONORM silently would give other colours.
  static void refuse_unnormalised_only(const std::string& train_set, const std::map<std::string, fs::path>& unused,
                                       const Enumeration& e) {
    const bool have_train = std::any_of(e.samples.begin(), e.samples.end(),
                                        [](const Sample& s) { return s.split == Split::Unassigned; });
    auto nonorm = unused.find(kUnnormalised);
    if (!have_train && train_set == kNormalised && nonorm != unused.end())
      throw InputError(nonorm->second, "this is " + kUnnormalised + ", the unnormalised copy; MedMNIST used the "
                                       "Macenko-normalised " + kNormalised + ". Add " + kNormalised +
                                       ".zip, or opt in with --set source.train_set=" + kUnnormalised);
  }

  static void describe(const std::string& train_set, const std::map<std::string, fs::path>& unused,
                       std::size_t outside, Enumeration& e) {
    std::size_t train = 0, test = 0;
    for (const auto& s : e.samples) (s.split == Split::Test ? test : train) += 1;
    e.layout = "Kather (" + train_set + ": " + std::to_string(train) + " images, " + kTestSet + ": " +
               std::to_string(test) + " images)";
    for (const auto& [set, folder] : unused)
      e.notes.push_back(set + " present but not used (source.train_set = " + train_set + ")");
    if (outside)
      e.notes.push_back(std::to_string(outside) + " images in class folders outside " + kNormalised + "/" + kTestSet +
                        " folders are left out: which set they belong to is unknown (unzip each zip into a folder "
                        "named after it)");
    if (!train) e.notes.push_back("no " + train_set + " images: train and val are empty");
    if (!test) e.notes.push_back("no " + kTestSet + " images: test is empty");
  }
};

}  // namespace

std::unique_ptr<Converter> make_pathmnist_converter() { return std::make_unique<Kather>(); }

}  // namespace mmb
