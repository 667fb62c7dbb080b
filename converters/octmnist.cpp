// OCTMNIST <- Kermany et al. 2018 retinal OCT (Cell 172:1122), Mendeley rscbjbr9sj
// (docs/datasets/octmnist.md).
//
// Recipe: <root>/{train,test}/{CNV,DME,DRUSEN,NORMAL}/*.jpeg, root OCT2017/
// (Mendeley V2, Kaggle "OCT2017 ") or CellData/OCT/ (V3). Label = class folder
// in INFO order (CNV 0, DME 1, DRUSEN 2, NORMAL 3). Pixels: the JPEG (a few are
// RGB -> gray by the manifest's n_channels = 1), centre square of the short edge,
// resize. Split: the test folder is test; train (+ Kaggle's val) is split 9:1 by
// patient. The layout handling is shared with PneumoniaMNIST (kermany_layout.h).
#include <regex>

#include "common/io/image_file.h"
#include "converters/kermany_layout.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

const std::vector<std::string> kClassPrefixes = {"CNV", "DME", "DRUSEN", "NORMAL"};

// "<CLASS>-<patient id>-<image number>": "(disease)-(randomized patient ID)-(image
// number by this patient)" per the dataset README; medimeta splits on "-" into
// exactly three parts (MedIMeta kermany_oct.py). The patient id alone is the group, so
// a patient filed under two classes (DRUSEN-x-1, NORMAL-x-1) stays in one split.
kermany::NameParts parse_oct_name(const std::string& stem) {
  static const std::regex pattern(R"(([A-Za-z]+)-(\d+)-(\d+))");
  std::smatch m;
  if (!std::regex_match(stem, m, pattern)) return {};
  const auto prefix = std::find(kClassPrefixes.begin(), kClassPrefixes.end(), m[1].str());
  kermany::NameParts parts;
  parts.subject = m[2].str();
  parts.claimed_label = prefix == kClassPrefixes.end() ? -1 : static_cast<int>(prefix - kClassPrefixes.begin());
  parts.series = m[1].str() + "-" + m[2].str() + "-";
  parts.number = std::stol(m[3].str());
  return parts;
}

class KermanyOct final : public Converter {
 public:
  std::string flag() const override { return "octmnist"; }
  std::string source_summary() const override {
    return "Kermany OCT (Mendeley rscbjbr9sj): OCT2017/{train,test}/{CNV,DME,DRUSEN,NORMAL}/*.jpeg, CellData/OCT/... (V3) "
           "or Kaggle's OCT2017 /{train,val,test}";
  }
  bool identify(const fs::path& source) const override {
    return kermany::has_class_folders(source, {"CNV", "DME", "DRUSEN"});
  }
  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    return kermany::enumerate_source(source, m, parse_oct_name, {"OCT2017", "CellData/OCT"});
  }
  Image load(const Sample& s, const Manifest&) const override { return read_image_file(s.path); }
};

}  // namespace

std::unique_ptr<Converter> make_octmnist_converter() { return std::make_unique<KermanyOct>(); }

}  // namespace mmb
