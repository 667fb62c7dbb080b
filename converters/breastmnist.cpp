// BreastMNIST <- BUSI, Al-Dhabyani et al. 2020, Data in Brief 28:104863 (docs/datasets/breastmnist.md).
//
// Recipe: every PNG in a class folder (Dataset_BUSI_with_GT/{benign,malignant,normal}/),
// except the lesion masks; gray stored as RGB becomes gray through n_channels = 1; the whole
// image is resized to SxS, no crop ("1x500x500 -> 1x28x28", INFO).
// Labels: malignant 0; normal and benign together 1 (INFO).
// Split: 7:1:2 image by image (no patient ids): 780 images -> 546 / 78 / 156.
#include <map>
#include <set>

#include "common/io/class_folders.h"
#include "common/io/files.h"
#include "common/io/image_file.h"
#include "common/pipeline/converter.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

// "benign (12)_mask.png", "_mask_1.png", "_mask_2.png" are segmentation masks, not images
// (the MedIMeta loader, busi.py, drops every path containing "mask").
bool is_mask(const fs::path& file) { return to_lower(file.stem().string()).find("_mask") != std::string::npos; }

// "benign (12)_mask_1.png" -> "benign (12).png": the image a mask belongs to.
std::string image_of_mask(const fs::path& mask) {
  const std::string stem = mask.stem().string();
  return stem.substr(0, to_lower(stem).find("_mask")) + mask.extension().string();
}

// The class folders' parent, for the layout line ("Dataset_BUSI_with_GT").
std::string class_root(const std::vector<ClassFile>& files) {
  if (files.empty() || files.front().folders.size() < 2) return "<source>";
  std::string root;
  for (std::size_t i = 0; i + 1 < files.front().folders.size(); ++i) root += files.front().folders[i] + "/";
  return root.substr(0, root.size() - 1);
}

class Busi final : public Converter {
 public:
  std::string flag() const override { return "breastmnist"; }
  std::string source_summary() const override {
    return "BUSI: Dataset_BUSI_with_GT/{benign,malignant,normal}/<class> (<n>).png (masks skipped)";
  }
  bool identify(const fs::path& source) const override {
    return !find_files_in_class_folders(source, {"malignant"}, {".png"}).empty();
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    const auto folders = m.get_strings("source.class_folders", {"malignant", "normal", "benign"});
    const auto labels = m.get_numbers("source.class_labels", {0, 1, 1});
    if (folders.size() != labels.size())
      throw std::runtime_error(m.file.string() + ": source.class_folders and source.class_labels differ in length");
    const auto files = find_files_in_class_folders(source, folders, {".png"});
    if (files.empty()) throw InputError(source, "no PNG in a benign/, malignant/ or normal/ folder");
    e.layout = "BUSI (" + class_root(files) + "/{benign,malignant,normal})";

    std::map<std::string, const ClassFile*> images;  // by file name, which names its class
    std::set<std::string> masked;                    // images named by a mask
    std::size_t masks = 0, duplicates = 0;
    for (const auto& f : files) {
      if (is_mask(f.path)) {
        ++masks;
        masked.insert(image_of_mask(f.path));
      } else if (!images.emplace(f.path.filename().string(), &f).second) {
        ++duplicates;
      }
    }
    for (const auto& [name, f] : images)  // id "benign (12).png": the file name, unique because it names the class
      e.samples.push_back(folder_sample(name, static_cast<int>(labels.at(f->label)), Split::Unassigned, f->path));

    // Every BUSI image has a mask (normal ones an empty one), so a mask without its image
    // names an image that is missing.
    for (const auto& name : masked)
      if (!images.count(name)) e.missing.push_back(name);
    std::size_t unmasked = 0;
    for (const auto& [name, f] : images) unmasked += !masked.count(name);
    e.notes.push_back(std::to_string(masks) + " mask files skipped");
    if (unmasked) e.notes.push_back(std::to_string(unmasked) + " images have no mask");
    if (duplicates)
      e.notes.push_back(std::to_string(duplicates) + " duplicate image names: the first in path order is used");
    report_unexpected(source, files, e);

    const auto r = m.get_numbers("split.ratios", {7, 1, 2});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = "7:1:2 of all images, image by image";
    return e;
  }

  Image load(const Sample& s, const Manifest&) const override { return read_image_file(s.path); }

 private:
  // PNGs outside the class folders are neither images nor masks of the dataset.
  static void report_unexpected(const fs::path& source, const std::vector<ClassFile>& files, Enumeration& e) {
    std::set<fs::path> known;
    for (const auto& f : files) known.insert(f.path);
    for (const auto& p : find_files_with_extension(source, {".png"}))
      if (!known.count(p)) e.unexpected.push_back(p);
  }
};

}  // namespace

std::unique_ptr<Converter> make_breastmnist_converter() { return std::make_unique<Busi>(); }

}  // namespace mmb
