// ChestMNIST <- NIH ChestX-ray14, Wang et al. CVPR 2017 (docs/datasets/chestmnist.md).
//
// Recipe: 1024x1024 PNG (L, or RGBA/LA/RGB converted to gray) -> plain resize.
// Labels: by default the CheXNet lists' 14-label vectors (the 2017 labels, which
// MedMNIST used: issue #46); else, or without the lists, the Data_Entry file's
// Finding Labels in ChestMNIST order ("No Finding" is all zeros). Split, first that applies: CheXNet lists, NIH lists + patient 7:1,
// patient 7:1:2.
#include <map>
#include <optional>
#include <set>

#include "common/io/csv.h"
#include "common/io/files.h"
#include "common/io/image_file.h"
#include "common/pipeline/converter.h"
#include "common/split/split.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

struct Entry {
  std::string patient;
  std::vector<std::uint8_t> label;
};

// Data_Entry: parse by position, because "OriginalImage[Width,Height]" holds
// unquoted commas. Fields: 0 name, 1 findings, 3 patient; 11 fields (v2020) or
// 12 with the 2017 trailing comma.
class DataEntry {
 public:
  DataEntry(const fs::path& csv, const std::vector<std::string>& findings, Enumeration& e) {
    const auto lines = read_lines(csv);
    check_header(csv, lines);
    for (std::size_t i = 1; i < lines.size(); ++i) {
      if (trim(lines[i]).empty()) continue;
      try {
        parse_row(lines[i], findings);
      } catch (const std::invalid_argument& err) {
        e.problems.push_back({csv.filename().string() + ":" + std::to_string(i + 1), err.what()});
      }
    }
  }
  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  static void check_header(const fs::path& csv, const std::vector<std::string>& lines) {
    const auto h = lines.empty() ? std::vector<std::string>{} : split_csv_header(csv, lines[0]);
    const bool ok = h.size() >= 6 && h[0] == "Image Index" && h[1] == "Finding Labels" && h[3] == "Patient ID" &&
                    (h[5] == "Patient Gender" || h[5] == "Patient Sex");
    if (!ok) throw InputError(csv, "unexpected header (expected 'Image Index,Finding Labels,Follow-up #,Patient ID,...')");
  }

  void parse_row(const std::string& line, const std::vector<std::string>& findings) {
    const auto f = split_csv_line(line);
    if (f.size() < 11 || f.size() > 12 || (f.size() == 12 && !f[11].empty()))
      throw std::invalid_argument("expected 11 fields (or 12 with a trailing comma), got " + std::to_string(f.size()));
    if (f[0].size() < 5 || f[0].substr(f[0].size() - 4) != ".png") throw std::invalid_argument("bad image name '" + f[0] + "'");
    if (f[3].empty() || f[3].find_first_not_of("0123456789") != std::string::npos)
      throw std::invalid_argument("bad Patient ID '" + f[3] + "'");
    Entry entry{f[3], parse_findings(f[1], findings)};
    if (!entries_.emplace(f[0], std::move(entry)).second) throw std::invalid_argument("duplicate image " + f[0]);
  }

  static std::vector<std::uint8_t> parse_findings(const std::string& text, const std::vector<std::string>& findings) {
    std::vector<std::uint8_t> label(findings.size(), 0);
    if (text == "No Finding") return label;
    std::size_t start = 0;
    while (start <= text.size()) {
      const auto bar = std::min(text.find('|', start), text.size());
      const std::string token = text.substr(start, bar - start);
      const auto it = std::find(findings.begin(), findings.end(), token);
      if (it == findings.end()) throw std::invalid_argument("unknown finding '" + token + "'");
      label[it - findings.begin()] = 1;
      start = bar + 1;
    }
    return label;
  }

  std::map<std::string, Entry> entries_;
};

fs::path pick_data_entry(const fs::path& source, const Manifest& m, Enumeration& e) {
  const auto v2020 = find_file_named(source, "Data_Entry_2017_v2020.csv");
  const auto v2017 = find_file_named(source, "Data_Entry_2017.csv");
  if (!v2020 && !v2017) throw InputError(source, "no Data_Entry_2017_v2020.csv or Data_Entry_2017.csv found");
  const bool want_2017 = m.get_string("source.data_entry", "v2020") == "2017";
  const fs::path chosen = (want_2017 && v2017) || !v2020 ? *v2017 : *v2020;
  e.notes.push_back("Data_Entry file: " + chosen.filename().string() + " (labels unless the CheXNet lists give them)");
  return chosen;
}

std::map<std::string, fs::path> index_pngs(const fs::path& source, Enumeration& e) {
  std::map<std::string, fs::path> by_name;
  for (const auto& p : find_files_with_extension(source, {".png"}))
    if (!by_name.emplace(p.filename().string(), p).second)
      e.notes.push_back("duplicate " + p.filename().string() + ": using " + display_path(by_name[p.filename().string()], source));
  return by_name;
}

// The CheXNet lists: "<name> <14 labels>" per line; NIH's test_list.txt has
// one name per line, so the token count tells the two test_list.txt apart.
bool is_chexnet_list(const fs::path& file) {
  for (const auto& line : read_lines(file))
    if (!trim(line).empty()) return split_whitespace(line).size() == 15;
  return false;
}

// Both the NIH and the CheXNet downloads have a test_list.txt; tell them apart.
std::pair<std::optional<fs::path>, std::optional<fs::path>> find_test_lists(const fs::path& source) {
  std::optional<fs::path> chexnet, nih;
  for (const auto& f : find_files(source, [](const fs::path& p) { return p.filename() == "test_list.txt"; })) {
    auto& slot = is_chexnet_list(f) ? chexnet : nih;
    if (!slot) slot = f;
  }
  return {chexnet, nih};
}

// The CheXNet lists' own 14-label vectors ("<name> <14 x 0/1>"), which are the
// 2017 labels. MedMNIST's train labels are these: its atelectasis column has
// 7,996 positives of 78,468 (MedMNIST issue #46), the count of train_list.txt;
// Data_Entry_2017_v2020.csv adds labels to 181 images (24 of them atelectasis).
// Malformed rows are problems naming file and line.
std::map<std::string, std::vector<std::uint8_t>> read_list_labels(const fs::path& file, std::size_t width,
                                                                  Enumeration& e) {
  std::map<std::string, std::vector<std::uint8_t>> labels;
  const auto lines = read_lines(file);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto words = split_whitespace(lines[i]);
    if (words.empty()) continue;
    std::vector<std::uint8_t> label;
    for (std::size_t k = 1; k < words.size(); ++k)
      if (words[k] == "0" || words[k] == "1") label.push_back(words[k] == "1");
    if (words.size() != width + 1 || label.size() != width) {
      e.problems.push_back({file.filename().string() + ":" + std::to_string(i + 1),
                            "expected an image name and " + std::to_string(width) + " labels of 0 or 1"});
      continue;
    }
    labels[words[0]] = std::move(label);
  }
  return labels;
}

// source.labels = "chexnet-lists" (default): the lists' vectors replace the
// Data_Entry labels; the images whose Data_Entry labels differ are counted in a note.
void take_list_labels(const std::vector<fs::path>& lists, Enumeration& e, const fs::path& source) {
  std::map<std::string, std::vector<std::uint8_t>> labels;
  for (const auto& file : lists) labels.merge(read_list_labels(file, e.samples.empty() ? 14 : e.samples[0].label.size(), e));
  std::size_t differ = 0;
  for (auto& s : e.samples) {
    auto it = labels.find(s.id);
    if (it == labels.end()) continue;
    differ += it->second != s.label;
    s.label = it->second;
  }
  e.notes.push_back("labels from the CheXNet lists (2017 labels); " + std::to_string(differ) +
                    " images have other labels in the Data_Entry file (lists: " +
                    display_path(lists.front(), source) + ")");
}

void apply_fixed_splits(const fs::path& source, const Manifest& m, Enumeration& e) {
  const auto train = find_file_named(source, "train_list.txt"), val = find_file_named(source, "val_list.txt"),
             train_val = find_file_named(source, "train_val_list.txt");
  const auto [chexnet_test, nih_test] = find_test_lists(source);
  std::map<std::string, Split> fixed;
  if (train && val && chexnet_test) {
    for (auto [file, split] : {std::pair{*train, Split::Train}, {*val, Split::Val}, {*chexnet_test, Split::Test}})
      for (const auto& name : read_name_list(file)) fixed[name] = split;
    e.split_rule = "CheXNet lists (train_list.txt, val_list.txt, test_list.txt)";
    if (m.get_string("source.labels", "chexnet-lists") == "chexnet-lists") take_list_labels({*train, *val, *chexnet_test}, e, source);
  } else if (train_val && nih_test) {
    for (const auto& name : read_name_list(*nih_test)) fixed[name] = Split::Test;
    const auto r = m.get_numbers("split.train_val_ratios", {7, 1, 0});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = "NIH test_list.txt; train_val_list.txt split 7:1 by patient";
    for (const auto& name : read_name_list(*train_val)) fixed.emplace(name, Split::Unassigned);
  } else {
    const auto r = m.get_numbers("split.ratios", {7, 1, 2});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = "no list files: 7:1:2 by patient";
    return;
  }
  std::vector<Sample> listed;
  for (auto& s : e.samples) {
    auto it = fixed.find(s.id);
    if (it == fixed.end()) continue;
    s.split = it->second;
    listed.push_back(std::move(s));
  }
  if (listed.size() != e.samples.size())
    e.notes.push_back(std::to_string(e.samples.size() - listed.size()) + " images are in no split list and are left out");
  e.samples = std::move(listed);
}

class ChestXray14 final : public Converter {
 public:
  std::string flag() const override { return "chestmnist"; }
  std::string source_summary() const override {
    return "NIH ChestX-ray14: images/*.png (Box) or images_00N/images/*.png (Kaggle) + Data_Entry_2017[_v2020].csv";
  }
  bool identify(const fs::path& source) const override {
    return find_file_named(source, "Data_Entry_2017_v2020.csv") || find_file_named(source, "Data_Entry_2017.csv");
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    const DataEntry table(pick_data_entry(source, m, e), m.get_strings("source.findings", {}), e);
    auto pngs = index_pngs(source, e);
    e.layout = fs::exists(source / "images") ? "NIH Box (flat images/)" : "Kaggle (images_00N/images/)";
    for (const auto& [name, entry] : table.entries()) {
      auto png = pngs.find(name);
      if (png == pngs.end()) {
        e.missing.push_back(name);
        continue;
      }
      Sample& s = e.samples.emplace_back();
      s.id = name;
      s.subject = entry.patient;
      s.label = entry.label;
      s.path = png->second;  // split stays Unassigned until apply_fixed_splits
      pngs.erase(png);
    }
    for (const auto& [name, path] : pngs) e.unexpected.push_back(path);
    apply_fixed_splits(source, m, e);
    return e;
  }

  Image load(const Sample& s, const Manifest&) const override { return read_image_file(s.path); }
};

}  // namespace

std::unique_ptr<Converter> make_chestmnist_converter() { return std::make_unique<ChestXray14>(); }

}  // namespace mmb
