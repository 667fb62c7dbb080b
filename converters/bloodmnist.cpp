// BloodMNIST <- PBC dataset, Acevedo et al. 2020, Data in Brief 30:105474; Mendeley snkd93bnjr
// (docs/datasets/bloodmnist.md).
//
// Recipe: every JPEG in a class folder (basophil eosinophil erythroblast ig lymphocyte monocyte
// neutrophil platelet = labels 0..7, alphabetical; ig = immature granulocytes), at any depth
// because PBC_dataset_normal_DIB/ can be nested twice. Other files in the folders are ignored.
// Pixels: RGB ~360x363 -> centre crop 200x200 (manifest [preprocess]) -> resize; 224 is an
// upsampling of the crop. Split: 7:1:2, image by image (no patient ids).
#include <algorithm>
#include <map>
#include <set>

#include "common/io/class_folders.h"
#include "common/io/files.h"
#include "common/io/image_file.h"
#include "common/pipeline/converter.h"
#include "common/split/split.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

const std::vector<std::string> kJpeg = {".jpg", ".jpeg"};

// Sample::id as MedMNIST's index map most plausibly names it: the file name, or the stem
// when source.sample_id = "stem" (unverified).
std::string sample_id(const fs::path& file, const Manifest& m) {
  return mmb::sample_id(file, m.get_string("source.sample_id", "file_name"), m.file);
}

// ---- PBC ----

// "SNE_70096.jpg" -> "SNE"; "PLATELET_1.jpg" -> "PLATELET".
std::string prefix_of(const fs::path& file) {
  const std::string stem = file.stem().string();
  std::string prefix = stem.substr(0, stem.find('_'));
  std::transform(prefix.begin(), prefix.end(), prefix.begin(), [](unsigned char c) { return std::toupper(c); });
  return prefix;
}

// The prefixes per class are not documented by the dataset (unverified on the real download): a
// file whose prefix is not
// listed for its folder keeps the folder's label and is only counted here.
void note_foreign_prefixes(const std::vector<ClassFile>& files, const std::vector<std::string>& classes,
                           const Manifest& m, Enumeration& e) {
  std::vector<std::string> examples;
  std::size_t count = 0;
  for (const auto& f : files) {
    const auto known = m.get_strings("source.class_prefixes." + classes[f.label], {});
    if (known.empty() || std::find(known.begin(), known.end(), prefix_of(f.path)) != known.end()) continue;
    if (count++ < 3) examples.push_back(classes[f.label] + "/" + f.path.filename().string());
  }
  if (!count) return;
  std::string list;
  for (const auto& x : examples) list += (list.empty() ? "" : ", ") + x;
  e.notes.push_back(std::to_string(count) + (count == 1 ? " image has" : " images have") +
                    " a file-name prefix not listed for its class folder (" +
                    list + (count > examples.size() ? ", ..." : "") + "); the folder gives the label");
}

// Non-image files inside class folders (e.g. a user-added json) are ignored, and counted.
void note_ignored_files(const fs::path& source, const std::vector<std::string>& classes, Enumeration& e) {
  std::set<std::string> class_names;
  for (const auto& c : classes) class_names.insert(to_lower(c));
  const auto ignored = find_files(source, [&](const fs::path& p) {
    if (std::find(kJpeg.begin(), kJpeg.end(), to_lower(p.extension().string())) != kJpeg.end()) return false;
    for (const auto& part : p.lexically_relative(source).parent_path())
      if (class_names.count(to_lower(part.string()))) return true;
    return false;
  });
  if (!ignored.empty())
    e.notes.push_back(std::to_string(ignored.size()) + (ignored.size() == 1 ? " non-JPEG file" : " non-JPEG files") +
                      " in class folders ignored (e.g. " +
                      display_path(ignored.front(), source) + ")");
}

// The folder that holds the class folders ("PBC_dataset_normal_DIB/PBC_dataset_normal_DIB").
std::string class_root(const ClassFile& f) {
  std::string root;
  for (std::size_t i = 0; i + 1 < f.folders.size(); ++i) root += (root.empty() ? "" : "/") + f.folders[i];
  return root.empty() ? "<source>" : root;
}

class Pbc final : public Converter {
 public:
  std::string flag() const override { return "bloodmnist"; }
  std::string source_summary() const override {
    return "PBC (Mendeley snkd93bnjr): PBC_dataset_normal_DIB/[PBC_dataset_normal_DIB/]<class>/*.jpg";
  }
  bool identify(const fs::path& source) const override {
    return !find_files_in_class_folders(source, {"basophil", "platelet"}, kJpeg).empty();
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    const auto classes = m.get_strings("source.class_folders", {});
    const auto files = find_files_in_class_folders(source, classes, kJpeg);
    if (files.empty()) throw InputError(source, "no .jpg in a class folder (" + classes.front() + ", ..., " +
                                                    classes.back() + ") at any depth");
    for (const auto& f : files)
      e.samples.push_back(folder_sample(sample_id(f.path, m), f.label, Split::Unassigned, f.path));
    e.layout = "PBC (" + class_root(files.front()) + "/<class>/*.jpg)";
    note_foreign_prefixes(files, classes, m, e);
    note_ignored_files(source, classes, e);
    drop_duplicate_ids(source, e);
    compare_with_expected_list(m.get_string("source.expected_list", ""), e);  // folders leave no trace of a deleted image
    const auto r = m.get_numbers("split.ratios", {7, 1, 2});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = "7:1:2 of all images, image by image";
    return e;
  }

  // The 200x200 centre crop is the manifest's [preprocess] rule, applied after load.
  Image load(const Sample& s, const Manifest&) const override { return read_image_file(s.path); }
};

}  // namespace

std::unique_ptr<Converter> make_bloodmnist_converter() { return std::make_unique<Pbc>(); }

}  // namespace mmb
