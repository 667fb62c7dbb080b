// FractureMNIST3D <- RibFrac (docs/datasets/fracturemnist3d.md).
//
// Recipe: a scan is RibFrac<N>-image.nii.gz (HU) + RibFrac<N>-label.nii.gz (an
// instance map: fracture k has voxel value label_id k) + its rows in
// ribfrac-*-info*.csv (public_id,label_id,label_code). Every instance with
// label_code 3/2/1 (buckle, nondisplaced, displaced) is a sample, label
// 3 - code; codes 4 (segmental), -1 (ignore) and 0 (background) are dropped
// (info.py: "segmental fractures dropped"). Crop: a 64 mm cube on the scan's
// axes around the instance centroid (mean voxel index, as FracNet's
// regionprops, mapped to physical space), cubic B-spline onto 64^3 (1 mm), -1024
// HU outside the scan, bone window; 28^3 is that crop resized. Split: the
// official one by public id (train 1-420, val 421-500, test 501-660).
// preprocess.crop_space = "voxel" crops crop_voxels^3 array voxels instead, as FracNet's
// _crop_roi (github.com/M3DV/FracNet dataset/fracnet_dataset.py): centre = the centroid rounded
// half to even (Python's round), voxels [c - 32, c + 32) per axis, -1024 HU beyond the scan.
// The default stays the 64 mm cube: medmnist/info.py says "center-cropped 64mm x 64mm x 64mm",
// on_medmnist_plus.md only "center-crop the image into 64x64x64" (no unit).
//
// Each scan is a unit: read_unit reads image + label once for all its
// fractures. enumerate() also reads the label volumes (not the images): the
// samples are the instances present in both the CSV and the volume, and the
// mismatches are reported.
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <cmath>
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

struct InfoRow {
  int label_id = 0, code = 0;
  std::string where;  // "ribfrac-val-info.csv:17"
};
using InfoTable = std::map<int, std::map<int, InfoRow>>;  // scan number -> label_id -> row

struct ScanFiles {
  fs::path image, label;
};

std::optional<int> parse_int(const std::string& text) {
  int v = 0;
  const auto t = trim(text);
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return v;
}

// "RibFrac421" -> 421.
std::optional<int> scan_number(const std::string& public_id) {
  if (!public_id.starts_with("RibFrac")) return std::nullopt;
  return parse_int(public_id.substr(7));
}

bool is_info_csv(const fs::path& p) {
  const auto name = to_lower(p.filename().string());
  return name.starts_with("ribfrac-") && name.find("info") != std::string::npos && name.ends_with(".csv");
}

void parse_info_row(const std::string& line, InfoRow& row, int& scan) {
  const auto f = split_csv_line(line);
  if (f.size() != 3) throw std::invalid_argument("expected 3 fields (public_id,label_id,label_code), got " + std::to_string(f.size()));
  const auto number = scan_number(trim(f[0]));
  const auto id = parse_int(f[1]), code = parse_int(f[2]);
  if (!number || *number < 1) throw std::invalid_argument("bad public_id '" + f[0] + "' (expected RibFrac<N>)");
  if (!id || *id < 0) throw std::invalid_argument("bad label_id '" + f[1] + "'");
  // label_code_dict of RibFrac-Challenge's evaluation.py: -1 ignore, 0 background, 1..4.
  if (!code || *code < -1 || *code > 4) throw std::invalid_argument("bad label_code '" + f[2] + "' (expected -1..4)");
  scan = *number, row.label_id = *id, row.code = *code;
}

InfoTable read_info_tables(const fs::path& source, Enumeration& e) {
  InfoTable table;
  for (const auto& csv : find_files(source, is_info_csv)) {
    const auto lines = read_lines(csv);
    const auto header = lines.empty() ? std::vector<std::string>{} : split_csv_header(csv, lines[0]);
    if (header.size() != 3 || trim(header[0]) != "public_id" || trim(header[1]) != "label_id" || trim(header[2]) != "label_code")
      throw InputError(csv, "unexpected header (expected 'public_id,label_id,label_code')");
    for (std::size_t i = 1; i < lines.size(); ++i) {
      if (trim(lines[i]).empty()) continue;
      const std::string where = csv.filename().string() + ":" + std::to_string(i + 1);
      try {
        InfoRow row{0, 0, where};
        int scan = 0;
        parse_info_row(lines[i], row, scan);
        if (!table[scan].emplace(row.label_id, row).second)
          throw std::invalid_argument("duplicate row for RibFrac" + std::to_string(scan) + " label_id " + std::to_string(row.label_id));
      } catch (const std::invalid_argument& err) {
        e.problems.push_back({where, err.what()});
      }
    }
  }
  return table;
}

// RibFrac<N>-image.nii(.gz) and RibFrac<N>-label.nii(.gz) at any depth (the
// zips may add an inner folder such as Part1/).
std::map<int, ScanFiles> index_scans(const fs::path& source, Enumeration& e) {
  std::map<int, ScanFiles> scans;
  for (const auto& p : find_files_with_extension(source, {".gz", ".nii"})) {
    const std::string name = p.filename().string();
    const auto dash = name.find('-');
    const auto number = dash == std::string::npos ? std::nullopt : scan_number(name.substr(0, dash));
    const std::string kind = dash == std::string::npos ? "" : name.substr(dash + 1);
    fs::path* slot = nullptr;
    if (number && (kind == "image.nii.gz" || kind == "image.nii")) slot = &scans[*number].image;
    if (number && (kind == "label.nii.gz" || kind == "label.nii")) slot = &scans[*number].label;
    if (!slot) continue;
    if (slot->empty()) *slot = p;
    else e.notes.push_back("duplicate " + name + ": using " + display_path(*slot, source));
  }
  return scans;
}

// The official split by public id, from [split] in the manifest.
Split official_split(int scan, const Manifest& m) {
  for (auto [key, split] : {std::pair{"split.train_ids", Split::Train}, {"split.val_ids", Split::Val}, {"split.test_ids", Split::Test}}) {
    const auto range = m.get_numbers(key, {});
    if (range.size() == 2 && scan >= range[0] && scan <= range[1]) return split;
  }
  return Split::Unassigned;
}

// Instance ids present in each scan's label volume. Reads run in parallel, at
// most 4 at a time: a 512x512x400 map is ~400 MB as float.
std::map<int, std::set<int>> instances_on_disk(const fs::path& source, const std::vector<std::pair<int, fs::path>>& labels,
                                                Enumeration& e) {
  std::vector<std::set<int>> found(labels.size());
  std::vector<std::optional<Problem>> errors(labels.size());
  tbb::task_arena arena(std::min(4, tbb::this_task_arena::max_concurrency()));
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, labels.size(), [&](std::size_t n) {
      try {
        for (const auto& [id, region] : region_centroids(read_volume_file(labels[n].second))) found[n].insert(id);
      } catch (const InputError& err) {
        errors[n] = Problem{display_path(err.path(), source), err.reason()};
      }
    });
  });
  std::map<int, std::set<int>> by_scan;
  for (std::size_t n = 0; n < labels.size(); ++n) {
    if (errors[n]) e.problems.push_back(*errors[n]);
    else by_scan[labels[n].first] = std::move(found[n]);
  }
  return by_scan;
}

// The samples of one scan: CSV rows with codes 1..3 whose instance is in the volume.
void add_scan_samples(int scan, const ScanFiles& files, const std::map<int, InfoRow>& rows, const std::set<int>& present,
                      const Manifest& m, Enumeration& e, std::map<int, int>& dropped_codes) {
  const std::string name = "RibFrac" + std::to_string(scan);
  for (const auto& [label_id, row] : rows) {
    if (row.code == 0) continue;  // the background row every scan has
    if (!present.count(label_id)) {
      e.notes.push_back(name + ": label_id " + std::to_string(label_id) + " (" + row.where + ") is not in " +
                        files.label.filename().string() + "; left out");
      continue;
    }
    if (row.code == 4 || row.code == -1) {
      ++dropped_codes[row.code];
      continue;
    }
    Sample s;
    s.id = name + "-" + std::to_string(label_id), s.subject = name, s.path = files.image;
    s.label = {static_cast<std::uint8_t>(3 - row.code)}, s.split = official_split(scan, m), s.aux = label_id;
    // The unit names the scan (so samples sort by scan) and carries the label
    // volume's path for read_unit.
    s.unit = name + "|" + files.label.string();
    e.samples.push_back(std::move(s));
  }
  for (int id : present)
    if (!rows.count(id))
      e.notes.push_back(name + ": instance " + std::to_string(id) + " of " + files.label.filename().string() +
                        " has no row in the info CSVs; left out");
}

struct CropParams {
  bool voxel_space;  // preprocess.crop_space: "mm" (default) or "voxel"
  double crop_mm;
  int crop_voxels;
  HuWindow window;
  float fill;
  ResizeKernel kernel;
};

bool voxel_space_of(const Manifest& m) {
  const std::string space = m.get_string("preprocess.crop_space", "mm");
  if (space != "mm" && space != "voxel")
    throw std::runtime_error(m.file.string() + ": preprocess.crop_space '" + space + "' is not mm or voxel");
  return space == "voxel";
}

// FracNet's _crop_roi: n^3 array voxels from c - n/2 (c = the centroid index rounded half to
// even, Python's round()), fill where the cube leaves the array; geometry kept for the record.
Volume voxel_crop(const Volume& image, const std::array<double, 3>& centroid_index, int n, float fill) {
  Volume out;
  out.size = {n, n, n};
  out.spacing = image.spacing;
  out.direction = image.direction;
  std::array<int, 3> first{};
  for (int a = 0; a < 3; ++a) first[a] = static_cast<int>(std::nearbyint(centroid_index[a])) - n / 2;  // FE_TONEAREST: half to even
  out.origin = image.to_physical({double(first[0]), double(first[1]), double(first[2])});
  out.voxels.assign(out.count(), fill);
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        const int x = first[0] + i, y = first[1] + j, z = first[2] + k;
        if (x >= 0 && y >= 0 && z >= 0 && x < image.size[0] && y < image.size[1] && z < image.size[2])
          out.at(i, j, k) = image.at(x, y, z);
      }
  return out;
}

CropParams crop_params(const Manifest& m) {
  return {voxel_space_of(m), m.get_number("preprocess.crop_mm", 64), static_cast<int>(m.get_integer("preprocess.crop_voxels", 64, 1, 4096)),
          HuWindow{m.get_number("preprocess.window_level", 400), m.get_number("preprocess.window_width", 1200)},
          static_cast<float>(m.get_number("preprocess.fill_hu", -1024)),
          parse_resize_kernel(m.get_string("preprocess.resize_kernel", "spline"))};
}

// One scan, read once: the HU volume and every instance's centroid.
struct ScanData : UnitData {
  Volume image;
  std::map<int, Region> instances;
  fs::path label_file;
};

class RibFrac final : public Converter {
 public:
  std::string flag() const override { return "fracturemnist3d"; }
  std::string source_summary() const override {
    return "RibFrac: RibFrac<N>-image.nii.gz + RibFrac<N>-label.nii.gz (instance maps) + ribfrac-*-info*.csv";
  }
  bool identify(const fs::path& source) const override { return !find_files(source, is_info_csv).empty(); }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    e.layout = "RibFrac (Zenodo zips unpacked, any depth)";
    e.split_rule = "official split by public id (train RibFrac1-420, val 421-500, test 501-660)";
    const InfoTable table = read_info_tables(source, e);
    const auto scans = index_scans(source, e);
    std::vector<std::pair<int, fs::path>> labels;
    for (const auto& [scan, rows] : table) {
      const auto it = scans.find(scan);
      const std::string name = "RibFrac" + std::to_string(scan);
      if (official_split(scan, m) == Split::Unassigned)
        e.problems.push_back({rows.begin()->second.where, name + " is outside the official id ranges"});
      else if (it == scans.end() || it->second.image.empty()) e.missing.push_back(name + "-image.nii.gz");
      else if (it->second.label.empty()) e.missing.push_back(name + "-label.nii.gz");
      else labels.emplace_back(scan, it->second.label);
    }
    const auto present = instances_on_disk(source, labels, e);
    std::map<int, int> dropped_codes;
    for (const auto& [scan, ids] : present) add_scan_samples(scan, scans.at(scan), table.at(scan), ids, m, e, dropped_codes);
    report_leftovers(table, scans, m, e, dropped_codes);
    return e;
  }

  Image load(const Sample& s, const Manifest& m) const override {
    return window_to_image(read_volume_file(s.path), crop_params(m).window);
  }

  std::unique_ptr<UnitData> read_unit(const Sample& first, const Manifest&) const override {
    auto scan = std::make_unique<ScanData>();
    scan->image = read_volume_file(first.path);
    scan->label_file = first.unit.substr(first.unit.find('|') + 1);
    const Volume labels = read_volume_file(scan->label_file);
    if (labels.size != scan->image.size)
      throw InputError(scan->label_file, "label volume size differs from " + first.path.filename().string());
    scan->instances = region_centroids(labels);  // in the label volume's own geometry
    return scan;
  }

  std::vector<Image> render(const Sample& s, const Manifest& m, const std::vector<int>& sizes,
                            const UnitData* unit) const override {
    const auto& scan = dynamic_cast<const ScanData&>(*unit);
    const auto it = scan.instances.find(static_cast<int>(s.aux));
    if (it == scan.instances.end())
      throw InputError(scan.label_file, "instance " + std::to_string(s.aux) + " is not in the label volume");
    const CropParams p = crop_params(m);
    RoiRequest roi;
    roi.centre_mm = it->second.centroid_mm;
    roi.size_mm = {p.crop_mm, p.crop_mm, p.crop_mm};
    roi.out_size = {p.crop_voxels, p.crop_voxels, p.crop_voxels};
    roi.fill = p.fill;
    const Image crop = window_to_image(
        p.voxel_space ? voxel_crop(scan.image, it->second.mean_index, p.crop_voxels, p.fill) : resample_roi(scan.image, roi),
        p.window);
    std::vector<Image> out;
    for (int size : sizes) out.push_back(size == p.crop_voxels ? crop : resize(crop, size, size, size, p.kernel));
    return out;
  }

 private:
  static void report_leftovers(const InfoTable& table, const std::map<int, ScanFiles>& scans, const Manifest& m,
                               Enumeration& e, const std::map<int, int>& dropped_codes) {
    if (!dropped_codes.empty())
      e.notes.push_back("dropped by the label rule: " + std::to_string(dropped_codes.count(4) ? dropped_codes.at(4) : 0) +
                        " segmental (code 4), " + std::to_string(dropped_codes.count(-1) ? dropped_codes.at(-1) : 0) +
                        " ignore (code -1) instances");
    const bool has_test = std::any_of(table.begin(), table.end(),
                                      [&](const auto& t) { return official_split(t.first, m) == Split::Test; });
    int unlabelled_test_scans = 0;
    for (const auto& [scan, files] : scans) {
      if (table.count(scan) || files.image.empty()) continue;
      if (!has_test && official_split(scan, m) == Split::Test) ++unlabelled_test_scans;
      else e.unexpected.push_back(files.image);
    }
    if (!has_test)
      e.notes.push_back("no test labels (e.g. ribfrac-test-info.csv): the test split is empty" +
                        (unlabelled_test_scans ? "; " + std::to_string(unlabelled_test_scans) + " test scans are unused"
                                               : std::string()));
  }
};

}  // namespace

std::unique_ptr<Converter> make_fracturemnist3d_converter() { return std::make_unique<RibFrac>(); }

}  // namespace mmb
