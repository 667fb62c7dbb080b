// OrganAMNIST, OrganCMNIST, OrganSMNIST, OrganMNIST3D <- LiTS CT + Xu et al. 2019 organ boxes
// (docs/datasets/organmnist.md). One converter, four datasets, one read per volume.
//
// Recipe, for each line "name id x1 x2 y1 y2 z1 z2" of a volume's box file (inclusive voxel
// indices into the raw array, never reoriented):
//   OrganMNIST3D     the box, HU window, 3D spline resize to S^3; label = Xu id - 1 [V: info.py].
//   Organ{A,C,S}     every 3rd slice of the central 20-80% of the box along the plane's normal
//                    (MedMNIST issue #36), counted and cut on the slice grid of
//                    converters/organ_slice_grid.h (default: the raw grid scaled 0.5245 in-plane,
//                    1.867 along z, which meets the official counts), the box rectangle in that
//                    plane, HU window, plain 2D resize to S^2; label = the organ's alphabetical
//                    index in INFO (medmnist/info.py).
//   Blank (constant) crops are dropped, as MedMNIST v2.2.4 did (preprocess.blank).
// Split: test-volume-N are test; the training volumes go 115 train : 16 val by a seeded hash of
// the volume name (which 16 MedMNIST chose is unpublished).
// Sample ids: "<source split>-<volume>-<Xu id>-<plane>-<slice>" as MedMNIST's index maps
// ("train-112-8-sagittal-028", issue #65); 3D: "<source split>-<volume>-<Xu id>". <slice> is the
// array index on the voxel grid, else the box-relative index on the slice grid.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>

#include "common/io/csv.h"
#include "common/io/files.h"
#include "common/io/volume_file.h"
#include "common/ops/resize.h"
#include "common/ops/volume_ops.h"
#include "common/ops/window.h"
#include "common/pipeline/converter.h"
#include "common/split/split.h"
#include "converters/organ_boxes.h"
#include "converters/organ_slice_grid.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

// flags() order: the three planes, then the 3D set (Sample::dataset indexes it).
const std::vector<std::string> kFlags = {"organamnist", "organcmnist", "organsmnist", "organmnist3d"};
constexpr int k3D = 3;
constexpr Plane kPlaneOf[3] = {Plane::Axial, Plane::Coronal, Plane::Sagittal};

const std::regex kVolumeFile(R"((test-)?volume-(\d{1,6})\.nii(\.gz)?)", std::regex::icase);

// "volume-12" / "test-volume-5" from a file name matching kVolumeFile.
std::string volume_name(const std::string& file, const std::regex& pattern) {
  std::smatch m;
  std::regex_match(file, m, pattern);
  return to_lower(m[1].str()) + "volume-" + std::to_string(std::stoi(m[2]));
}

bool is_volume_file(const fs::path& f) { return std::regex_match(f.filename().string(), kVolumeFile); }

// ---- sample ids ----------------------------------------------------------------------------

struct SampleId {
  std::string source_split;   // "train" or "test": the LiTS folder, not the output split
  int volume = 0, organ = 0;  // LiTS volume number, Xu organ id 1..11
  std::optional<Plane> plane;
  int slice = 0;              // array index along the plane's normal, in the whole volume
};

std::string format_id(const SampleId& id) {
  std::string s = id.source_split + "-" + std::to_string(id.volume) + "-" + std::to_string(id.organ);
  if (!id.plane) return s;
  char slice[16];
  std::snprintf(slice, sizeof slice, "%03d", id.slice);
  return s + "-" + std::string(plane_name(*id.plane)) + "-" + slice;
}

SampleId parse_id(const std::string& text) {
  static const std::regex form(R"((train|test)-(\d{1,6})-(\d{1,2})(?:-(axial|coronal|sagittal)-(\d{1,6}))?)");
  std::smatch m;
  if (!std::regex_match(text, m, form)) throw std::invalid_argument("not an Organ sample id: '" + text + "'");
  SampleId id{m[1], std::stoi(m[2]), std::stoi(m[3]), std::nullopt, 0};
  if (m[4].matched) id.plane = parse_plane(m[4].str()), id.slice = std::stoi(m[5]);
  return id;
}

// ---- box files: loose or in Xu's zips (converters/organ_boxes.h) ----------------------------

using organ::BoxFile;
using organ::OrganBox;

// Volume name -> its box file. Loose files win over zip members (users who unzipped may have
// corrected one); a difference is reported.
std::map<std::string, BoxFile> find_box_files(const fs::path& source, Enumeration& e) {
  std::map<std::string, BoxFile> loose, zipped;
  for (const auto& p : find_files(source, [](const fs::path& f) { return organ::is_box_file_name(f.filename().string()); }))
    loose.emplace(organ::box_volume_name(p.filename().string()), BoxFile{display_path(p, source), read_lines(p)});
  for (const auto& z : find_files(source, [](const fs::path& f) {
         const auto n = to_lower(f.filename().string());
         return n.starts_with("annotations_of_") && n.ends_with(".zip");
       }))
    organ::read_zipped_boxes(z, display_path(z, source), zipped);
  for (auto& [name, box] : zipped) {
    auto it = loose.find(name);
    if (it == loose.end()) loose.emplace(name, std::move(box));
    else if (it->second.lines != box.lines) e.notes.push_back(it->second.where + " differs from " + box.where + ": using the loose file");
  }
  return loose;
}

// ---- volumes and their split ---------------------------------------------------------------

struct CtVolume {
  std::string name;  // "volume-12" or "test-volume-5"
  bool test = false;
  int number = 0;
  fs::path path;
  std::vector<OrganBox> organs;
  Split split = Split::Unassigned;
  std::array<double, 3> spacing{1, 1, 1};  // header spacing, in the (repaired) array's axis order
};

bool is_swapped(const std::string& volume, const Manifest& m) {
  const auto listed = m.get_strings("source.swapped_axes", {});
  return std::find(listed.begin(), listed.end(), volume) != listed.end();
}

// Every volume with a readable header and a box file, with its boxes in the array order
// read_unit() gives (repaired for a swapped volume). A volume in two files (.nii and .nii.gz)
// is read from the first in path order.
std::vector<CtVolume> usable_volumes(const fs::path& source, const Manifest& m, Enumeration& e) {
  std::map<std::string, CtVolume> found;
  for (const auto& p : find_files(source, is_volume_file)) {
    const std::string file = p.filename().string(), name = volume_name(file, kVolumeFile);
    CtVolume ct{name, to_lower(file).starts_with("test-"), std::stoi(name.substr(name.rfind('-') + 1)), p, {}};
    if (!found.emplace(name, ct).second) e.notes.push_back(name + " found twice: using " + display_path(found[name].path, source));
  }
  auto boxes = find_box_files(source, e);
  std::vector<CtVolume> usable;
  std::string identity_affine;
  for (auto& [name, ct] : found) {
    auto box_file = boxes.find(name);
    if (box_file == boxes.end()) {
      e.unexpected.push_back(ct.path);  // a volume without boxes yields no sample
      continue;
    }
    const BoxFile file = std::move(box_file->second);
    boxes.erase(box_file);
    Volume header;
    try {
      header = read_volume_header(ct.path);
    } catch (const InputError& err) {
      e.problems.push_back({display_path(ct.path, source), err.reason()});
      continue;
    }
    if (header.spacing == std::array<double, 3>{1, 1, 1} && header.origin == std::array<double, 3>{0, 0, 0})
      identity_affine += (identity_affine.empty() ? "" : ", ") + name;
    ct.organs = organ::parse_boxes(file, m.get_strings("source.xu_organs", {}), header.size, e.problems);
    ct.spacing = header.spacing;
    if (is_swapped(name, m) && !m.get_bool("source.include_swapped", false)) {
      e.notes.push_back(name + " left out: its array axes 1 and 2 are swapped (MedMNIST's 610 = 618 - 8 test boxes "
                               "suggests it was dropped); --set source.include_swapped=true includes it repaired");
      continue;
    }
    if (is_swapped(name, m))
    {
      for (auto& o : ct.organs) o.box = swap_axes(o.box, 1, 2);  // the boxes follow the repaired array
      std::swap(ct.spacing[1], ct.spacing[2]);
    }
    usable.push_back(std::move(ct));
  }
  for (const auto& [name, box] : boxes) e.missing.push_back(name + ".nii");  // boxes without their volume
  if (!identity_affine.empty())
    e.notes.push_back("identity affine (spacing 1 mm; known for volume-28..47) in " + identity_affine +
                      ": crops use voxel boxes, so they are unaffected");
  return usable;
}

// Test volumes are test. Training volumes in seeded-hash order of their names: the first n_val
// are val, n_val from split.volume_ratios (115:16 -> 16 of 131), at least one of two or more.
void split_volumes(std::vector<CtVolume>& volumes, const Manifest& m) {
  std::vector<std::pair<std::uint64_t, CtVolume*>> train;
  const auto seed = static_cast<std::uint64_t>(m.get_integer("split.seed", 0, 0, INT64_MAX));
  for (auto& ct : volumes)
    if (ct.test) ct.split = Split::Test;
    else train.emplace_back(group_hash(seed, ct.name), &ct);
  std::sort(train.begin(), train.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->name < b.second->name;  // ties: by name
  });
  const auto r = m.get_numbers("split.volume_ratios", {115, 16});
  std::size_t n_val = split_targets(train.size(), {r.at(0), r.at(1), 0}).val;
  if (n_val == 0 && train.size() >= 2) n_val = 1;
  for (std::size_t i = 0; i < train.size(); ++i) train[i].second->split = i < n_val ? Split::Val : Split::Train;
}

// ---- recipe parameters (from each dataset's manifest) --------------------------------------

HuWindow window_of(const Manifest& m) {
  HuWindow w;
  return {m.get_number("preprocess.window_level", w.level), m.get_number("preprocess.window_width", w.width)};
}

CentralSliceRule slice_rule_of(const Manifest& m) {
  CentralSliceRule r;
  const auto range = m.get_numbers("preprocess.slice_range", {r.from, r.to});
  if (range.size() != 2) throw std::runtime_error(m.file.string() + ": preprocess.slice_range must have 2 numbers");
  return {range[0], range[1], static_cast<int>(m.get_integer("preprocess.slice_step", r.step, 1, 10000))};
}

SliceGrid slice_grid_of(const Manifest& m) {
  SliceGrid g;
  g.kind = parse_slice_grid(m.get_string("preprocess.slice_grid", "scaled"));
  const auto scale = m.get_numbers("preprocess.slice_grid_scale", {g.scale[0], g.scale[1], g.scale[2]});
  if (scale.size() != 3 || !(scale[0] > 0 && scale[1] > 0 && scale[2] > 0))
    throw std::runtime_error(m.file.string() + ": preprocess.slice_grid_scale must be 3 positive numbers");
  g.scale = {scale[0], scale[1], scale[2]};
  g.mm = m.get_number("preprocess.slice_grid_mm", g.mm);
  if (!(g.mm > 0)) throw std::runtime_error(m.file.string() + ": preprocess.slice_grid_mm must be positive");
  return g;
}

std::uint8_t label_in(const Manifest& m, const std::string& organ) {
  const auto it = std::find(m.labels.begin(), m.labels.end(), organ);
  if (it == m.labels.end()) throw std::runtime_error(m.file.string() + ": no label '" + organ + "'");
  return static_cast<std::uint8_t>(it - m.labels.begin());
}

// ---- the converter -------------------------------------------------------------------------

struct CtUnit final : UnitData {
  Volume hu;
};

// MMB_VOLUME_READ_LOG=FILE appends one line per CT volume read: the tests' proof of one pass.
void log_volume_read(const fs::path& file) {
  static std::mutex mutex;
  if (const char* log = std::getenv("MMB_VOLUME_READ_LOG")) {
    std::lock_guard lock(mutex);
    std::ofstream(log, std::ios::app) << file.string() << "\n";
  }
}

class LitsOrgans final : public Converter {
 public:
  std::string flag() const override { return kFlags[0]; }
  std::vector<std::string> flags() const override { return kFlags; }
  std::string source_summary() const override {
    return "LiTS volume-N.nii / test-volume-N.nii (.nii or .nii.gz, any depth) + Xu et al. boxes "
           "segmentation-N.txt, loose or in annotations_of_{training,testing}_set.zip";
  }
  bool identify(const fs::path& source) const override { return !find_files(source, is_volume_file).empty(); }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    std::vector<const Manifest*> requested(kFlags.size(), nullptr);
    requested[std::find(kFlags.begin(), kFlags.end(), m.flag) - kFlags.begin()] = &m;
    return enumerate_all(source, requested);
  }

  Enumeration enumerate_all(const fs::path& source, const std::vector<const Manifest*>& manifests) const override {
    const auto first = std::find_if(manifests.begin(), manifests.end(), [](auto* m) { return m != nullptr; });
    if (first == manifests.end()) throw std::logic_error("organmnist: enumerate_all without a manifest");
    const Manifest& any = **first;  // [source] and [split] are the same in the four manifests
    Enumeration e;
    e.layout = "LiTS CT volumes + Xu et al. organ boxes";
    e.split_rule = any.get_string("split.rule", "LiTS test volumes are test; training volumes split by volume");
    auto volumes = usable_volumes(source, any, e);
    split_volumes(volumes, any);
    for (const auto& ct : volumes)
      for (const auto& o : ct.organs) add_samples(ct, o, manifests, e);
    return e;
  }

  std::unique_ptr<UnitData> read_unit(const Sample& first, const Manifest& m) const override {
    log_volume_read(first.path);
    auto unit = std::make_unique<CtUnit>();
    unit->hu = read_volume_file(first.path);
    if (is_swapped(first.subject, m)) unit->hu = swap_axes(unit->hu, 1, 2);
    return unit;
  }

  std::vector<Image> render(const Sample& s, const Manifest& m, const std::vector<int>& sizes,
                            const UnitData* unit) const override {
    const auto kernel = parse_resize_kernel(m.get_string("preprocess.resize_kernel", "spline"));
    return resize_to_sizes(windowed_crop(s, m, dynamic_cast<const CtUnit&>(*unit).hu), sizes, kernel);
  }

  // The crop at source resolution (for callers outside the pipeline, which uses render).
  Image load(const Sample& s, const Manifest& m) const override {
    return windowed_crop(s, m, dynamic_cast<const CtUnit&>(*read_unit(s, m)).hu);
  }

 private:
  // The box's 3D sample and its central slices in each plane, for the requested datasets.
  static void add_samples(const CtVolume& ct, const OrganBox& o, const std::vector<const Manifest*>& manifests,
                          Enumeration& e) {
    const SampleId box_id{ct.test ? "test" : "train", ct.number, o.xu_id, std::nullopt, 0};
    const auto add = [&](int dataset, const SampleId& id, std::uint8_t label) {
      e.samples.push_back({format_id(id), ct.name, {label}, ct.split, ct.path, encode_box(o.box), ct.path.string(), dataset});
    };
    if (const Manifest* m = manifests[k3D]) {
      if (label_in(*m, o.organ) != o.xu_id - 1)  // OrganMNIST3D label = Xu id - 1 (medmnist/info.py)
        throw std::runtime_error(m->file.string() + ": label " + std::to_string(o.xu_id - 1) + " is not " + o.organ);
      add(k3D, box_id, static_cast<std::uint8_t>(o.xu_id - 1));
    }
    for (int d = 0; d < k3D; ++d) {
      if (!manifests[d]) continue;
      const int axis = normal_axis(kPlaneOf[d]);
      const SliceGrid grid = slice_grid_of(*manifests[d]);
      const double f = grid_factor(grid, axis, ct.spacing);
      const int first = grid.kind == SliceGrid::Kind::Voxel ? o.box.lo[axis] : 0;  // ids: array index on the voxel grid
      for (int t : grid_slices(o.box.lo[axis], o.box.hi[axis], f, slice_rule_of(*manifests[d]))) {
        SampleId id = box_id;
        id.plane = kPlaneOf[d], id.slice = first + t;
        add(d, id, label_in(*manifests[d], o.organ));
      }
    }
  }

  // The sample's box (3D) or its slice of the box (2D), windowed to 8 bits; blank ones refused.
  static Image windowed_crop(const Sample& s, const Manifest& m, const Volume& hu) {
    const SampleId id = parse_id(s.id);
    const VoxelBox box = decode_box(s.aux);
    Volume crop;
    if (id.plane) {
      const int axis = normal_axis(*id.plane);
      const SliceGrid grid = slice_grid_of(m);
      const int first = grid.kind == SliceGrid::Kind::Voxel ? box.lo[axis] : 0;
      crop = grid_slab(hu, box, *id.plane, id.slice - first, grid_factor(grid, axis, hu.spacing));
    } else {
      crop = crop_box(hu, box);
    }
    Image gray = window_to_image(crop, window_of(m));
    if (is_constant(gray) && m.get_string("preprocess.blank", "drop") == "drop")
      throw SampleDropped("blank crop (a single gray value under the window), as MedMNIST v2.2.4 dropped blank samples");
    return id.plane ? slab_as_plane_image(std::move(gray), *id.plane) : gray;
  }
};

}  // namespace

std::unique_ptr<Converter> make_organmnist_converter() { return std::make_unique<LitsOrgans>(); }

}  // namespace mmb
