// PneumoniaMNIST <- Kermany et al. 2018 pediatric chest X-rays, Mendeley
// rscbjbr9sj (Cell 172:1122; docs/datasets/pneumoniamnist.md).
//
// Recipe: <root>/{train,test}/{NORMAL,PNEUMONIA}/*.jpeg, root chest_xray/
// (Mendeley V2, Kaggle) or CellData/chest_xray/ (V3). Label = class folder:
// NORMAL 0, PNEUMONIA 1 (bacterial and viral alike). Pixels: the JPEG (283 are
// RGB -> gray by the manifest's n_channels = 1), centre square of the short edge
// (the smallest is 127 px, upsampled for 128/224), resize. Split: the test
// folder is test; train (+ Kaggle's val) is split 9:1 by patient. The layout
// handling is shared with OCTMNIST (kermany_layout.h).
#include <regex>

#include "common/io/image_file.h"
#include "converters/kermany_layout.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

constexpr int kNormal = 0, kPneumonia = 1;

// The patient behind a file name. Three namings (the first is [S], the other
// two are inferences from the names themselves, docs/datasets/pneumoniamnist.md):
//   V3  "<NORMAL|BACTERIA|VIRUS>-<patient id>-<n>"  -> "<patient id>", numbered per patient
//   V2  "person<N>_<bacteria|virus>_<k>"            -> "person<N>"; k counts all images of
//       that kind (person1000_bacteria_2931), so it is not a per-patient number
//   V2  "[NORMAL2-]IM-<nnnn>-<mmmm>"                -> "[NORMAL2-]IM-<nnnn>", numbered per patient
kermany::NameParts parse_cxr_name(const std::string& stem) {
  static const std::regex v3(R"((NORMAL|BACTERIA|VIRUS)-(\d+)-(\d+))");
  static const std::regex v2_pneumonia(R"((person\d+)_(bacteria|virus)_(\d+))");
  static const std::regex v2_normal(R"(((?:NORMAL2-)?IM-\d+)-(\d+))");
  std::smatch m;
  kermany::NameParts parts;
  if (std::regex_match(stem, m, v3)) {
    parts.subject = m[2].str();
    parts.claimed_label = m[1].str() == "NORMAL" ? kNormal : kPneumonia;
    parts.series = m[1].str() + "-" + m[2].str() + "-";
    parts.number = std::stol(m[3].str());
  } else if (std::regex_match(stem, m, v2_pneumonia)) {
    parts.subject = m[1].str();
    parts.claimed_label = kPneumonia;
  } else if (std::regex_match(stem, m, v2_normal)) {
    parts.subject = m[1].str();
    parts.claimed_label = kNormal;
    parts.series = m[1].str() + "-";
    parts.number = std::stol(m[2].str());
    parts.digits = static_cast<int>(m[2].length());
  }
  return parts;
}

class KermanyChestXray final : public Converter {
 public:
  std::string flag() const override { return "pneumoniamnist"; }
  std::string source_summary() const override {
    return "Kermany chest X-ray (Mendeley rscbjbr9sj): chest_xray/{train,test}/{NORMAL,PNEUMONIA}/*.jpeg, "
           "CellData/chest_xray/... (V3) or Kaggle's chest_xray/{train,val,test}";
  }
  bool identify(const fs::path& source) const override { return kermany::has_class_folders(source, {"PNEUMONIA"}); }
  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    return kermany::enumerate_source(source, m, parse_cxr_name, {"chest_xray", "CellData/chest_xray"});
  }
  Image load(const Sample& s, const Manifest&) const override { return read_image_file(s.path); }
};

}  // namespace

std::unique_ptr<Converter> make_pneumoniamnist_converter() { return std::make_unique<KermanyChestXray>(); }

}  // namespace mmb
