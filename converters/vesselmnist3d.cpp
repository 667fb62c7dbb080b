// VesselMNIST3D <- IntrA generated segments, Yang et al. CVPR 2020, github intra3d2019/IntrA
// (docs/datasets/vesselmnist3d.md).
//
// Recipe: each .obj segment under generated/vessel (label 0) or
// generated/aneurysm (label 1), at any depth -> weld duplicate points, keep the
// largest component, close every hole (VTK in place of PyMeshFix; INFO:
// "fix the non-watertight mesh with PyMeshFix") -> solid voxelisation with one
// isotropic pitch, voxelised afresh at every size (28³, and 64³ "voxelized
// directly" as MedMNIST+ did; on_medmnist_plus.md), values 0/255.
// A segment that cannot be closed or encloses no volume is an InputError (a
// recorded skip with --on-error skip). A closed segment whose grid comes out
// empty is a blank sample: dropped after the split (split.drop_blank), as
// MedMNIST v2.2.4 removed one blank sample (val 192 -> 191).
// Split: MedMNIST's per-class 7:1:2 of the segments, image by image (1,694 +
// 215 -> 1,335 / 192 / 382, common/split/split.h); --group subject keeps each
// model AN<id> in one split.
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "common/io/files.h"
#include "common/io/mesh_file.h"
#include "common/ops/voxelize.h"
#include "common/pipeline/converter.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

// Where a file sits in the IntrA tree: below generated/<class>/, at any depth.
struct SegmentPlace {
  fs::path generated;  // the "generated" folder
  std::string label_folder;
};

std::optional<SegmentPlace> place_of(const fs::path& file, const fs::path& source,
                                     const std::vector<std::string>& label_folders) {
  const fs::path relative = file.lexically_relative(source);
  const std::vector<fs::path> parts(relative.begin(), relative.end());
  fs::path folder = source;
  for (std::size_t i = 0; i + 2 < parts.size(); ++i) {  // the last part is the file itself
    folder /= parts[i];
    const std::string next = parts[i + 1].string();
    const bool is_class = std::find(label_folders.begin(), label_folders.end(), next) != label_folders.end();
    if (parts[i] == "generated" && is_class) return SegmentPlace{folder, next};
  }
  return std::nullopt;
}

// "ArteryObjAN123-4.obj" -> "AN123": the whole-brain model, the split group.
std::optional<std::string> model_of(const fs::path& file) {
  static const std::regex model(R"(AN(\d+))");
  std::smatch m;
  const std::string name = file.filename().string();
  if (!std::regex_search(name, m, model)) return std::nullopt;
  return "AN" + m[1].str();
}

// "ArteryObjAN1-11_addon.ad" and "ArteryObjAN1-11.obj" name the same segment.
std::string segment_key(const std::string& label_folder, const fs::path& file) {
  std::string stem = file.stem().string();
  const std::string addon = "_addon";
  if (stem.size() > addon.size() && stem.compare(stem.size() - addon.size(), addon.size(), addon) == 0)
    stem.resize(stem.size() - addon.size());
  return label_folder + "/" + stem;
}

// The .ad point files list the segments too: one without its .obj is a
// missing mesh. Only checked when the names pair at all (the obj naming of
// the real download is unverified; intra3d2019/IntrA fileSplit/ lists the .ad names only).
void report_meshes_missing_beside_ad(const std::map<std::string, fs::path>& ad_files,
                                     const std::set<std::string>& obj_keys, const fs::path& source, Enumeration& e) {
  std::vector<std::string> unpaired;
  for (const auto& [key, ad] : ad_files)
    if (!obj_keys.count(key)) unpaired.push_back(display_path(ad, source));
  if (unpaired.empty() || ad_files.empty()) return;
  if (unpaired.size() == ad_files.size()) {
    e.notes.push_back("no .ad file pairs with an .obj by name; the .obj files are taken as they are");
    return;
  }
  for (const auto& ad : unpaired) e.missing.push_back(ad + " has no .obj mesh beside it");
}

class IntraVessels final : public Converter {
 public:
  std::string flag() const override { return "vesselmnist3d"; }
  std::string source_summary() const override {
    return "IntrA: generated/vessel/.../ArteryObjAN<model>-<k>.obj (label 0) and generated/aneurysm/.../*.obj (label 1)";
  }

  bool identify(const fs::path& source) const override {
    return !find_files(source, [&](const fs::path& p) {
              return to_lower(p.extension().string()) == ".obj" && place_of(p, source, {"vessel", "aneurysm"});
            }).empty();
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    e.layout = "IntrA generated segments (generated/vessel, generated/aneurysm)";
    const auto folders = m.get_strings("source.label_folders", {"vessel", "aneurysm"});
    std::map<std::string, fs::path> ad_files;
    std::set<std::string> obj_keys;
    std::size_t outside_generated = 0;
    for (const auto& file : find_files_with_extension(source, {".obj", ".ad"})) {
      const auto place = place_of(file, source, folders);
      if (!place) {
        outside_generated += to_lower(file.extension().string()) == ".obj";
        continue;
      }
      const std::string key = segment_key(place->label_folder, file);
      if (to_lower(file.extension().string()) == ".ad") {
        ad_files.emplace(key, file);
        continue;
      }
      obj_keys.insert(key);
      add_segment(file, *place, folders, source, e);
    }
    if (outside_generated)
      e.notes.push_back(std::to_string(outside_generated) + " .obj files outside generated/vessel|aneurysm (e.g. annotated/) are not used");
    report_meshes_missing_beside_ad(ad_files, obj_keys, source, e);
    const auto r = m.get_numbers("split.ratios", {7, 1, 2});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = "7:1:2 of the segments";
    return e;
  }

  Image load(const Sample& s, const Manifest& m) const override {
    return render(s, m, {m.sizes.back()}, nullptr).front();
  }

  // Voxelised from the mesh at each size, never resized from another size.
  std::vector<Image> render(const Sample& s, const Manifest& m, const std::vector<int>& sizes,
                            const UnitData*) const override {
    const auto mesh = read_obj_mesh(s.path);
    RepairedMesh closed;
    try {
      closed = repair_to_watertight(mesh, repair_params(m));
    } catch (const MeshRepairError& err) {
      throw InputError(s.path, err.what());
    }
    try {
      return voxelize_solid(closed.surface, sizes, voxelize_params(m));
    } catch (const MeshRepairError& err) {
      // A closed mesh whose grid comes out empty is a blank sample. MedMNIST
      // v2.2.4 removed its one blank VesselMNIST3D sample (val 192 -> 191, the
      // 1,909 IntrA segments -> 1,908; medmnist CHANGELOG / INFO counts), so by
      // default such a sample is dropped after the split, not reported as bad input.
      if (m.get_bool("split.drop_blank", true))
        throw SampleDropped("blank voxelisation (" + std::string(err.what()) +
                            "); dropped like the blank sample MedMNIST v2.2.4 removed");
      throw InputError(s.path, err.what());
    }
  }

 private:
  static void add_segment(const fs::path& file, const SegmentPlace& place, const std::vector<std::string>& folders,
                          const fs::path& source, Enumeration& e) {
    const auto model = model_of(file);
    if (!model) {
      e.problems.push_back({display_path(file, source), "no model id (AN<number>) in the file name"});
      return;
    }
    const auto label = static_cast<std::uint8_t>(std::find(folders.begin(), folders.end(), place.label_folder) - folders.begin());
    Sample s;
    s.id = file.lexically_relative(place.generated).generic_string();  // "vessel/obj/ArteryObjAN1-0.obj"
    s.subject = *model;
    s.label = {label};
    s.path = file;
    e.samples.push_back(std::move(s));
  }

  static MeshRepairParams repair_params(const Manifest& m) {
    MeshRepairParams p;
    p.weld_tolerance = m.get_number("preprocess.weld_tolerance", p.weld_tolerance);
    p.keep_largest_component = m.get_bool("preprocess.keep_largest_component", p.keep_largest_component);
    p.max_hole_radius = m.get_number("preprocess.max_hole_radius", p.max_hole_radius);
    return p;
  }

  static VoxelizeParams voxelize_params(const Manifest& m) {
    VoxelizeParams p;
    p.margin = static_cast<int>(m.get_integer("preprocess.margin_voxels", p.margin, 0, 10000));
    return p;
  }
};

}  // namespace

std::unique_ptr<Converter> make_vesselmnist3d_converter() { return std::make_unique<IntraVessels>(); }

}  // namespace mmb
