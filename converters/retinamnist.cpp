// RetinaMNIST <- DeepDRiD regular fundus images, github deepdrdoc/DeepDRiD (docs/datasets/retinamnist.md).
//
// Recipe: RGB JPEG fundus photograph -> centre square crop (short edge, from the
// manifest) -> resize.
// Labels: the DR level (0-4) of the eye in the picture: whichever of
// left_eye_DR_Level / right_eye_DR_Level is filled; with
// source.label_column = "patient", patient_DR_Level. Level 5 (ungradable) is dropped.
// Split: regular-fundus-training 9:1 by patient -> train/val (1,080/120);
// regular-fundus-validation -> test (400) [V: info.py].
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

constexpr int kUngradable = 5;  // DR level 5: image not gradable (medimeta drops it [S])

// One row of regular-fundus-{training,validation}.csv, by header name:
// patient_id,image_id,image_path,Overall quality,left_eye_DR_Level,right_eye_DR_Level,
// patient_DR_Level,Clarity,Field definition,Artifact [V].
struct FundusRow {
  std::string patient, image_id, image_path, left_eye, right_eye, patient_level;
  std::string where;  // "regular-fundus-training.csv:7"
};

const std::vector<std::string> kFundusColumns = {"patient_id",        "image_id",           "image_path",
                                                 "left_eye_DR_Level", "right_eye_DR_Level", "patient_DR_Level"};

// The table is read by header name (common/io/csv.h). Every DeepDRiD row has all ten
// fields, so a shorter row is a problem (a file cut mid-row), not a quirk to accept.
class FundusCsv {
 public:
  explicit FundusCsv(const fs::path& csv, Enumeration& e) {
    const HeaderTable table(csv, e.problems, {.required = kFundusColumns});
    for (const auto& row : table.rows()) {
      auto cell = [&](const char* name) { return row.fields[table.column(name)]; };
      FundusRow r;
      r.patient = cell("patient_id");
      r.image_id = cell("image_id");
      r.image_path = cell("image_path");
      r.left_eye = cell("left_eye_DR_Level");
      r.right_eye = cell("right_eye_DR_Level");
      r.patient_level = cell("patient_DR_Level");
      r.where = row.where;
      if (r.patient.empty() || r.image_id.empty()) e.problems.push_back({row.where, "empty patient_id or image_id"});
      else rows_.push_back(std::move(r));
    }
  }
  const std::vector<FundusRow>& rows() const { return rows_; }

 private:
  std::vector<FundusRow> rows_;
};

// "" -> nothing; "0".."5" -> the level; anything else is a malformed cell.
std::optional<int> parse_level(const std::string& cell, const char* column) {
  if (cell.empty()) return std::nullopt;
  if (cell.size() != 1 || cell[0] < '0' || cell[0] > '0' + kUngradable)
    throw std::invalid_argument(std::string(column) + " '" + cell + "' is not a DR level 0-5");
  return cell[0] - '0';
}

// Exactly one eye column is filled per row, and it does not always match the
// l/r letter of the id (56_r3 has a left-eye value: deepdrdoc/DeepDRiD
// regular_fundus_images/regular-fundus-training/regular-fundus-training.csv), so the
// filled one is taken whatever the letter says.
int eye_level(const FundusRow& row) {
  const auto left = parse_level(row.left_eye, "left_eye_DR_Level");
  const auto right = parse_level(row.right_eye, "right_eye_DR_Level");
  if (!left && !right) throw std::invalid_argument("neither left_eye_DR_Level nor right_eye_DR_Level is filled");
  if (left && right && *left != *right)
    throw std::invalid_argument("left_eye_DR_Level and right_eye_DR_Level are both filled and differ");
  return left ? *left : *right;
}

// True when the filled eye column contradicts the l/r letter after '_' in the id.
bool eye_column_mismatches_id(const FundusRow& row) {
  const auto underscore = row.image_id.find('_');
  const char letter = underscore + 1 < row.image_id.size() ? row.image_id[underscore + 1] : '?';
  return (letter == 'l' && row.left_eye.empty()) || (letter == 'r' && row.right_eye.empty());
}

int patient_level(const FundusRow& row) {
  const auto level = parse_level(row.patient_level, "patient_DR_Level");
  if (!level) throw std::invalid_argument("patient_DR_Level is empty");
  return *level;
}

// The images of one split folder, keyed by (patient folder, lower-case stem), so
// lookups ignore the extension's case and whether an "Images/" level exists.
class ImageIndex {
 public:
  explicit ImageIndex(const fs::path& split_dir) {
    for (const auto& p : find_files_with_extension(split_dir, {".jpg", ".jpeg", ".png"}))
      by_key_.emplace(key(p.parent_path().filename().string(), p.stem().string()), p);
  }
  std::optional<fs::path> take(const std::string& folder, const std::string& stem) {
    const auto it = by_key_.find(key(folder, stem));
    if (it == by_key_.end()) return std::nullopt;
    fs::path found = it->second;
    by_key_.erase(it);
    return found;
  }
  std::vector<fs::path> left_over() const {
    std::vector<fs::path> out;
    for (const auto& [k, p] : by_key_) out.push_back(p);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  static std::string key(const std::string& folder, const std::string& stem) { return folder + "/" + to_lower(stem); }
  std::map<std::string, fs::path> by_key_;
};

// image_path is "\regular-fundus-training\1\1_l1.jpg": Windows separators, the
// split folder first and no "Images" level, while the file is at
// <split>/Images/<pid>/<image_id>.jpg [V]. Some files lack the "<pid>_" prefix
// (medimeta falls back to the part after '_' [S]). Tried in that order: the
// id in the patient folder, the folder and stem image_path names, the id
// without its prefix in the patient folder.
std::optional<fs::path> locate_image(const FundusRow& row, ImageIndex& images, Enumeration& e) {
  if (auto p = images.take(row.patient, row.image_id)) return p;
  std::string windows_path = row.image_path;
  std::replace(windows_path.begin(), windows_path.end(), '\\', '/');
  const fs::path listed(windows_path);
  if (auto p = images.take(listed.parent_path().filename().string(), listed.stem().string())) return p;
  const auto underscore = row.image_id.find('_');
  if (underscore != std::string::npos) {
    if (auto p = images.take(row.patient, row.image_id.substr(underscore + 1))) {
      e.notes.push_back(row.image_id + ": file is named without the patient prefix (" + p->filename().string() + ")");
      return p;
    }
  }
  return std::nullopt;
}

void add_split_folder(const fs::path& csv, Split split, bool per_patient, const fs::path& source, Enumeration& e,
                      std::set<std::string>& seen_ids, std::vector<std::string>& ungradable,
                      std::vector<std::string>& mismatched) {
  const FundusCsv table(csv, e);
  ImageIndex images(csv.parent_path());
  for (const auto& row : table.rows()) {
    int eye = 0, level = 0;
    try {
      eye = eye_level(row);  // checked in both modes: it tells an ungradable picture
      level = per_patient ? patient_level(row) : eye;
      if (!seen_ids.insert(row.image_id).second) throw std::invalid_argument("duplicate image_id " + row.image_id);
    } catch (const std::invalid_argument& err) {
      e.problems.push_back({row.where, err.what()});
      continue;
    }
    if (eye_column_mismatches_id(row)) mismatched.push_back(row.image_id);
    const auto path = locate_image(row, images, e);
    if (eye == kUngradable || level == kUngradable) {
      ungradable.push_back(row.image_id);
      continue;
    }
    if (!path) {  // named as the file the CSV promises
      e.missing.push_back(display_path(csv.parent_path() / "Images" / row.patient / (row.image_id + ".jpg"), source));
      continue;
    }
    Sample sample;
    sample.id = row.image_id;
    sample.subject = row.patient;  // patients group the 9:1 train/val split
    sample.label = {static_cast<std::uint8_t>(level)};
    sample.split = split;          // Unassigned (training folder) or Test (validation folder)
    sample.path = *path;
    e.samples.push_back(std::move(sample));
  }
  for (const auto& p : images.left_over()) e.unexpected.push_back(p);
}

std::string joined(const std::vector<std::string>& ids) {
  std::string text;
  for (const auto& id : ids) text += (text.empty() ? "" : ", ") + id;
  return text;
}

class DeepDRiDRegularFundus final : public Converter {
 public:
  std::string flag() const override { return "retinamnist"; }
  std::string source_summary() const override {
    return "DeepDRiD regular_fundus_images/: regular-fundus-{training,validation}/{Images/<pid>/*.jpg, *.csv}";
  }
  bool identify(const fs::path& source) const override {
    return find_file_named(source, "regular-fundus-training.csv").has_value();
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    const auto training = find_file_named(source, m.get_string("source.training_csv", "regular-fundus-training.csv"));
    const auto validation =
        find_file_named(source, m.get_string("source.validation_csv", "regular-fundus-validation.csv"));
    if (!training) throw InputError(source, "no regular-fundus-training.csv found (DeepDRiD regular_fundus_images/)");
    const std::string column = m.get_string("source.label_column", "eye");
    if (column != "eye" && column != "patient")
      throw std::runtime_error(m.file.string() + ": source.label_column must be \"eye\" or \"patient\"");
    e.layout = "DeepDRiD regular fundus (labels: " + std::string(column == "eye" ? "per-eye" : "per-patient") + " DR level)";

    std::set<std::string> seen_ids;
    std::vector<std::string> ungradable, mismatched;
    add_split_folder(*training, Split::Unassigned, column == "patient", source, e, seen_ids, ungradable, mismatched);
    if (validation) {
      add_split_folder(*validation, Split::Test, column == "patient", source, e, seen_ids, ungradable, mismatched);
    } else {
      e.notes.push_back("no regular-fundus-validation.csv: the test split is empty");
    }
    if (!ungradable.empty())
      e.notes.push_back(std::to_string(ungradable.size()) + " image(s) with DR level 5 (ungradable) dropped: " +
                        joined(ungradable));
    if (!mismatched.empty())
      e.notes.push_back(std::to_string(mismatched.size()) + " image(s) whose filled eye column contradicts the l/r "
                        "of the id (the filled one is used): " + joined(mismatched));
    const auto r = m.get_numbers("split.train_val_ratios", {9, 1, 0});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = "regular-fundus-training 9:1 into train/val; regular-fundus-validation is test";
    return e;
  }

  Image load(const Sample& s, const Manifest&) const override { return read_image_file(s.path); }
};

}  // namespace

std::unique_ptr<Converter> make_retinamnist_converter() { return std::make_unique<DeepDRiDRegularFundus>(); }

}  // namespace mmb
