// AdrenalMNIST3D <- binary adrenal shape masks (MedMNIST v2 paper, Yang et al., Scientific
// Data 2023; medmnist/info.py; docs/datasets/adrenalmnist3d.md). The Zhongshan Hospital masks are private:
// this converter defines a plain input format and applies MedMNIST's stated
// recipe to it ("center of adrenal, center-cropped 64 mm^3 volume resized to
// 28^3", info.py / on_medmnist_plus.md).
//
// Input: adrenal_labels.csv with the header file,patient_id,label (label
// "normal" or "hyperplasia", INFO's names) and one NIfTI mask per gland, `file`
// relative to the CSV's folder (or found by name at any depth). A voxel > 0.5
// is inside.
// Recipe: centre of mass of the mask (mean inside voxel index -> physical
// point); a 64 mm cube on the mask's axes around it, trilinear onto 64^3 (1 mm)
// then > 0.5 (the nnU-Net rule for masks: MIC-DKFZ/nnUNet
// nnunetv2/preprocessing/resampling/default_resampling.py resize_segmentation), 0 outside the
// volume; the 28^3 file is that crop area-averaged and thresholded at half.
// Output voxels are 0/255. Split: 7:1:2 by patient (info.py).
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "common/io/csv.h"
#include "common/io/files.h"
#include "common/io/volume_file.h"
#include "common/ops/resize.h"
#include "common/ops/roi_resample.h"
#include "common/ops/window.h"
#include "common/pipeline/converter.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

bool is_nifti(const fs::path& p) {
  const auto name = to_lower(p.filename().string());
  return name.ends_with(".nii") || name.ends_with(".nii.gz");
}

fs::path labels_csv(const fs::path& source, const Manifest& m) {
  const std::string name = m.get_string("source.labels_csv", "adrenal_labels.csv");
  const auto csv = find_file_named(source, name);
  if (!csv) throw InputError(source, "no " + name + " found");
  return *csv;
}

// Masks by relative path (as the CSV names them) and by bare file name.
struct MaskIndex {
  std::map<fs::path, fs::path> by_relative;
  std::multimap<std::string, fs::path> by_name;
  std::set<fs::path> used;

  MaskIndex(const fs::path& source, const fs::path& csv_dir) {
    for (const auto& p : find_files(source, is_nifti)) {
      by_relative.emplace(p.lexically_relative(csv_dir), p);
      by_name.emplace(p.filename().string(), p);
    }
  }
  std::optional<fs::path> find(const std::string& file) {
    const fs::path relative = fs::path(file).lexically_normal();
    std::optional<fs::path> hit;
    if (auto it = by_relative.find(relative); it != by_relative.end()) hit = it->second;
    else if (by_name.count(relative.filename().string()) == 1) hit = by_name.find(relative.filename().string())->second;
    if (hit) used.insert(*hit);
    return hit;
  }
};

Sample parse_row(const std::string& line, const Manifest& m, MaskIndex& masks, Enumeration& e) {
  const auto f = split_csv_line(line);
  if (f.size() != 3) throw std::invalid_argument("expected 3 fields (file,patient_id,label), got " + std::to_string(f.size()));
  const std::string file = trim(f[0]), patient = trim(f[1]), label = to_lower(trim(f[2]));
  if (file.empty() || !is_nifti(file)) throw std::invalid_argument("bad file '" + file + "' (expected a .nii or .nii.gz)");
  if (patient.empty()) throw std::invalid_argument("empty patient_id");
  const auto it = std::find(m.labels.begin(), m.labels.end(), label);
  if (it == m.labels.end()) throw std::invalid_argument("unknown label '" + trim(f[2]) + "' (expected normal or hyperplasia)");
  Sample s;
  s.id = file, s.subject = patient, s.label = {static_cast<std::uint8_t>(it - m.labels.begin())};
  if (const auto path = masks.find(file)) s.path = *path;
  else e.missing.push_back(file);
  return s;
}

struct CropParams {
  double crop_mm;
  int crop_voxels;
  float threshold;
  RoiInterpolation interpolation;
  ResizeKernel kernel;
};

CropParams crop_params(const Manifest& m) {
  const std::string interpolation = m.get_string("preprocess.roi_interpolation", "linear");
  if (interpolation != "linear" && interpolation != "nearest")
    throw std::runtime_error(m.file.string() + ": preprocess.roi_interpolation must be linear or nearest");
  return {m.get_number("preprocess.crop_mm", 64), static_cast<int>(m.get_integer("preprocess.crop_voxels", 64, 1, 4096)),
          static_cast<float>(m.get_number("preprocess.mask_threshold", 0.5)),
          interpolation == "linear" ? RoiInterpolation::Linear : RoiInterpolation::Nearest,
          parse_resize_kernel(m.get_string("preprocess.resize_kernel", "area"))};
}

// 0/255 again after an averaging resize: inside where at least half covered.
Image rebinarize(Image img) {
  for (auto& v : img.pixels) v = v >= 128 ? 255 : 0;
  return img;
}

class AdrenalMasks final : public Converter {
 public:
  std::string flag() const override { return "adrenalmnist3d"; }
  std::string source_summary() const override {
    return "adrenal shape masks (private; documented format): adrenal_labels.csv (file,patient_id,label) + NIfTI masks";
  }
  bool identify(const fs::path& source) const override {
    return find_file_named(source, "adrenal_labels.csv").has_value();
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    const fs::path csv = labels_csv(source, m);
    e.layout = "adrenal_labels.csv + one NIfTI mask per gland";
    const auto lines = read_lines(csv);
    const auto header = lines.empty() ? std::vector<std::string>{} : split_csv_header(csv, lines[0]);
    if (header.size() != 3 || trim(header[0]) != "file" || trim(header[1]) != "patient_id" || trim(header[2]) != "label")
      throw InputError(csv, "unexpected header (expected 'file,patient_id,label')");
    MaskIndex masks(source, csv.parent_path());
    std::set<std::string> seen;
    for (std::size_t i = 1; i < lines.size(); ++i) {
      if (trim(lines[i]).empty()) continue;
      const std::string where = csv.filename().string() + ":" + std::to_string(i + 1);
      try {
        Sample s = parse_row(lines[i], m, masks, e);
        if (!seen.insert(s.id).second) throw std::invalid_argument("duplicate file " + s.id);
        if (!s.path.empty()) e.samples.push_back(std::move(s));
      } catch (const std::invalid_argument& err) {
        e.problems.push_back({where, err.what()});
      }
    }
    for (const auto& [relative, path] : masks.by_relative)
      if (!masks.used.count(path)) e.unexpected.push_back(path);
    const auto r = m.get_numbers("split.ratios", {7, 1, 2});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = "patient-level random split 7:1:2 (info.py)";
    return e;
  }

  Image load(const Sample& s, const Manifest& m) const override {
    return mask_to_image(read_volume_file(s.path), crop_params(m).threshold);
  }

  std::vector<Image> render(const Sample& s, const Manifest& m, const std::vector<int>& sizes,
                            const UnitData*) const override {
    const CropParams p = crop_params(m);
    Volume mask = read_volume_file(s.path);
    for (float& v : mask.voxels) v = v > p.threshold ? 1.0f : 0.0f;
    const auto regions = region_centroids(mask);
    if (regions.empty()) throw InputError(s.path, "empty mask (no voxel above " + std::to_string(p.threshold) + ")");
    RoiRequest roi;
    roi.centre_mm = regions.at(1).centroid_mm;  // centre of mass of the gland
    roi.size_mm = {p.crop_mm, p.crop_mm, p.crop_mm};
    roi.out_size = {p.crop_voxels, p.crop_voxels, p.crop_voxels};
    roi.fill = 0.0f;
    roi.anti_alias = false;  // a mask is thresholded, not smoothed
    roi.interpolation = p.interpolation;
    const Image crop = mask_to_image(resample_roi(mask, roi), 0.5f);
    std::vector<Image> out;
    for (int size : sizes)
      out.push_back(size == p.crop_voxels ? crop : rebinarize(resize(crop, size, size, size, p.kernel)));
    return out;
  }
};

}  // namespace

std::unique_ptr<Converter> make_adrenalmnist3d_converter() { return std::make_unique<AdrenalMasks>(); }

}  // namespace mmb
