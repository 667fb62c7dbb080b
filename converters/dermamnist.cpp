// DermaMNIST <- HAM10000, Tschandl et al. 2018, Scientific Data 5:180161; Harvard Dataverse
// doi:10.7910/DVN/DBW86T (docs/datasets/dermamnist.md).
//
// Recipe: ISIC_xxxxxxx.jpg, RGB 600x450 -> plain resize to SxS, no crop (on_medmnist_plus.md).
// Labels: the dx code's index in the alphabetical list akiec, bcc, bkl, df, mel, nv, vasc.
// Subjects: lesion_id, so a lesion's images stay in one split (MedMNIST's split does not do
// this; --group none reproduces an image-level split, --index-map the official one).
// Two layouts: HAM10000 (Dataverse/Kaggle: metadata table + images part 1/2) and the ISIC 2018
// Task 3 training set (one-hot ground truth + optional lesion groupings).
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "common/io/csv.h"
#include "common/io/files.h"
#include "common/io/image_file.h"
#include "common/pipeline/converter.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

struct Entry {
  std::string lesion;  // empty: the image is its own group
  std::uint8_t label = 0;
};
using Entries = std::map<std::string, Entry>;  // by image id (ISIC_xxxxxxx)

// "ISIC_0027419" or, in some copies, "ISIC_0027419.jpg" (seen in third-party copies of the
// metadata; docs/datasets/dermamnist.md): the id is the stem.
std::string image_id_from(const std::string& field) {
  const std::string lower = to_lower(field);
  if (lower.size() > 4 && lower.substr(lower.size() - 4) == ".jpg") return field.substr(0, field.size() - 4);
  return field;
}

void add_entry(Entries& entries, const std::string& where, const std::string& id, Entry entry, Enumeration& e) {
  if (id.empty()) e.problems.push_back({where, "empty image id"});
  else if (!entries.emplace(id, std::move(entry)).second) e.problems.push_back({where, "duplicate image " + id});
}

// HAM10000_metadata: lesion_id,image_id,dx,dx_type,age,sex,localization[,dataset]. Only the
// first three matter; age may be empty and is never read.
Entries read_ham_metadata(const fs::path& file, const std::vector<std::string>& dx_codes, Enumeration& e) {
  const HeaderTable table(file, e.problems);
  const auto lesion = table.column("lesion_id"), image = table.column("image_id"), dx = table.column("dx");
  e.notes.push_back("labels from " + file.filename().string() + " (" + std::to_string(table.header().size()) +
                    " columns" + (table.find_column("dataset") ? ", with 'dataset'" : "") + ")");
  Entries entries;
  std::size_t with_extension = 0;
  for (const auto& row : table.rows()) {
    const auto code = std::find(dx_codes.begin(), dx_codes.end(), to_lower(row.fields[dx]));
    if (code == dx_codes.end()) {
      e.problems.push_back({row.where, "unknown dx '" + row.fields[dx] + "'"});
      continue;
    }
    const std::string id = image_id_from(row.fields[image]);
    with_extension += id != row.fields[image];
    add_entry(entries, row.where, id, {row.fields[lesion], static_cast<std::uint8_t>(code - dx_codes.begin())}, e);
  }
  if (with_extension) e.notes.push_back(std::to_string(with_extension) + " image_id values carry '.jpg'");
  return entries;
}

// ISIC2018_Task3_Training_GroundTruth.csv: image,MEL,NV,BCC,AKIEC,BKL,DF,VASC, one-hot "0.0"/"1.0".
Entries read_isic_ground_truth(const fs::path& file, const std::vector<std::string>& dx_codes, Enumeration& e) {
  const HeaderTable table(file, e.problems);
  const auto image = table.column("image");
  std::vector<std::size_t> code_column;
  for (const auto& code : dx_codes) code_column.push_back(table.column(code));  // case-insensitive: MEL = mel
  e.notes.push_back("labels from " + file.filename().string() + " (one-hot)");
  Entries entries;
  for (const auto& row : table.rows()) {
    std::vector<std::uint8_t> hot;
    try {
      for (std::size_t k = 0; k < code_column.size(); ++k)
        if (std::stod(row.fields[code_column[k]]) >= 0.5) hot.push_back(static_cast<std::uint8_t>(k));
    } catch (const std::exception&) {
      e.problems.push_back({row.where, "non-numeric class column"});
      continue;
    }
    if (hot.size() != 1) {
      e.problems.push_back({row.where, "expected exactly one class set to 1, got " + std::to_string(hot.size())});
      continue;
    }
    add_entry(entries, row.where, image_id_from(row.fields[image]), {"", hot.front()}, e);
  }
  return entries;
}

// ISIC2018_Task3_Training_LesionGroupings.csv: image,lesion_id[,...] (column names [S]).
void apply_lesion_groupings(const std::optional<fs::path>& file, Entries& entries, Enumeration& e) {
  if (!file) {
    e.notes.push_back("no lesion groupings file: each image is its own group, lesions may cross splits");
    return;
  }
  const HeaderTable table(*file, e.problems);
  const auto image = table.column("image"), lesion = table.column("lesion_id");
  for (const auto& row : table.rows()) {
    auto it = entries.find(image_id_from(row.fields[image]));
    if (it != entries.end()) it->second.lesion = row.fields[lesion];
  }
  e.notes.push_back("lesions from " + file->filename().string());
}

// Every JPEG by stem, at any depth. The Kaggle mirror holds each image twice
// (HAM10000_images_part_N/ and ham10000_images_part_N/) [M]: the first in path order wins.
std::map<std::string, fs::path> index_jpegs(const fs::path& source, Enumeration& e) {
  std::map<std::string, fs::path> by_id;
  std::size_t duplicates = 0;
  std::string example;
  for (const auto& p : find_files_with_extension(source, {".jpg", ".jpeg"}))
    if (!by_id.emplace(p.stem().string(), p).second && duplicates++ == 0) example = display_path(p, source);
  if (duplicates)
    e.notes.push_back(std::to_string(duplicates) + " duplicate image names (e.g. " + example +
                      "): the first in path order is used");
  return by_id;
}

class Ham10000 final : public Converter {
 public:
  std::string flag() const override { return "dermamnist"; }
  std::string source_summary() const override {
    return "HAM10000: HAM10000_images_part_{1,2}/*.jpg + HAM10000_metadata.csv (or ISIC2018_Task3_Training_*)";
  }
  bool identify(const fs::path& source) const override {
    return !find_files(source, [](const fs::path& p) { return is_label_table(p.filename().string()); }).empty();
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    const auto dx_codes = m.get_strings("source.dx_codes", {});
    if (dx_codes.size() != m.labels.size())
      throw std::runtime_error(m.file.string() + ": source.dx_codes must name one dx code per label");
    Entries entries = read_labels(source, m, dx_codes, e);
    auto jpegs = index_jpegs(source, e);
    std::set<std::string> folders;
    for (const auto& [id, entry] : entries) {
      auto jpeg = jpegs.find(id);
      if (jpeg == jpegs.end()) {
        e.missing.push_back(id + ".jpg");
        continue;
      }
      folders.insert(jpeg->second.parent_path().filename().string());
      Sample& s = e.samples.emplace_back();
      s.id = id;
      s.subject = entry.lesion;
      s.label = {entry.label};
      s.path = jpeg->second;
      jpegs.erase(jpeg);
    }
    for (const auto& [id, path] : jpegs) e.unexpected.push_back(path);
    std::string listed;
    for (const auto& f : folders) listed += (listed.empty() ? "" : ", ") + f;
    if (!listed.empty()) e.notes.push_back("images in " + listed);  // both parts folders, or the ISIC input
    const auto r = m.get_numbers("split.ratios", {7, 1, 2});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = "7:1:2 of all images (lesions kept whole with --group subject)";
    return e;
  }

  Image load(const Sample& s, const Manifest&) const override { return read_image_file(s.path); }

 private:
  static bool is_label_table(const std::string& name) {
    return name.rfind("HAM10000_metadata", 0) == 0 || name == "ISIC2018_Task3_Training_GroundTruth.csv";
  }

  // HAM10000 metadata first (it has lesion ids); else the ISIC 2018 ground truth.
  static Entries read_labels(const fs::path& source, const Manifest& m, const std::vector<std::string>& dx_codes,
                             Enumeration& e) {
    const auto metadata_names = m.get_strings("source.metadata_names", {"HAM10000_metadata.csv"});
    const auto ground_truth = m.get_string("source.ground_truth", "ISIC2018_Task3_Training_GroundTruth.csv");
    const auto groupings = m.get_string("source.lesion_groupings", "ISIC2018_Task3_Training_LesionGroupings.csv");
    std::map<std::string, fs::path> tables;  // first in path order for each name
    const auto wanted = [&](const std::string& n) {
      return n == ground_truth || n == groupings ||
             std::find(metadata_names.begin(), metadata_names.end(), n) != metadata_names.end();
    };
    for (const auto& p : find_files(source, [&](const fs::path& p) { return wanted(p.filename().string()); }))
      tables.emplace(p.filename().string(), p);
    for (const auto& name : metadata_names)
      if (tables.count(name)) {
        e.layout = "HAM10000 (" + name + ")";
        return read_ham_metadata(tables[name], dx_codes, e);
      }
    if (!tables.count(ground_truth))
      throw InputError(source, "no HAM10000_metadata(.csv|.tab) and no " + ground_truth + " found");
    e.layout = "ISIC 2018 Task 3 training set (" + ground_truth + ")";
    Entries entries = read_isic_ground_truth(tables[ground_truth], dx_codes, e);
    apply_lesion_groupings(tables.count(groupings) ? std::optional(tables[groupings]) : std::nullopt, entries, e);
    return entries;
  }
};

}  // namespace

std::unique_ptr<Converter> make_dermamnist_converter() { return std::make_unique<Ham10000>(); }

}  // namespace mmb
