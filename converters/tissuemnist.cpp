// TissueMNIST <- BBBC051 kidney cortex nuclei, "NephNuc" (Woloshuk et al., Cytometry A 2021; github
// awoloshuk/NephNet data_loader/databases.py; docs/datasets/tissuemnist.md).
//
// Recipe: one cell is 7 x 32 x 32 voxels (z, y, x) -> maximum over the 7 slices
// -> resize (pure upsampling to 64/128/224; 28 is a slight shrink) [V: INFO description].
// Layouts (the least verified source; the docs page says what is and is not known):
//   hdf5  the file the dataset authors' NephNet code reads [V: NephNet databases.py]:
//         keys train_data/train_labels/test_data/test_labels, each a plain dataset
//         or a pandas HDFStore group; rows of 7168 voxels in C order; labels 1-based.
//   tiff  our documented plain layout: 7-page TIFF stacks + a "file,label" CSV.
// Split: the source's train and test rows are pooled and split 7:1:2 image by
// image; MedMNIST's 165,466/23,640/47,280 of 236,386 ignores any source split
// (an inference from the counts).
#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/io/csv.h"
#include "common/io/files.h"
#include "common/io/hdf5_rows.h"
#include "common/io/image_file.h"
#include "common/ops/geometry.h"
#include "common/pipeline/converter.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

// ---- TissueMNIST -------------------------------------------------------------

struct VoxelShape {
  int z = 7, y = 32, x = 32;  // NephNet configs: "shape": [7,32,32] [V]
  std::size_t count() const { return static_cast<std::size_t>(z) * y * x; }
};

VoxelShape voxel_shape(const Manifest& m) {
  const auto v = m.get_numbers("source.voxel_shape", {7, 32, 32});
  if (v.size() != 3) throw std::runtime_error(m.file.string() + ": source.voxel_shape must be [z, y, x]");
  return {static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2])};
}

struct SourcePart {
  const char* data_key;
  const char* labels_key;
};
constexpr SourcePart kParts[] = {{"train_data", "train_labels"}, {"test_data", "test_labels"}};

// HDF5 ids are "<file name>/<data key>/<row>", e.g. "NephNuc.h5/train_data/17".
std::string data_key_of(const std::string& id) {
  const auto last = id.rfind('/');
  return id.substr(id.rfind('/', last - 1) + 1, last - id.rfind('/', last - 1) - 1);
}

// Cells have no subject (image-level split) and no fixed split (pooled).
Sample cell_sample(const std::string& id, std::uint8_t label, const fs::path& path, std::int64_t row = 0) {
  Sample s;
  s.id = id;
  s.label = {label};
  s.path = path;
  s.aux = row;  // the HDF5 row
  return s;
}

// Flat rows (N x >= 7168, or a pandas column of arrays) or N x 7 x 32 x 32.
// NephNet uses the first 7168 numbers of a row (data[index, 0:num_pixels]) [V].
bool holds_voxels(const H5Rows& data, const VoxelShape& shape) {
  const bool flat = data.dims.size() == 2 || !data.member.empty();
  if (flat) return data.row_length >= shape.count();
  const std::vector<hsize_t> zyx = {static_cast<hsize_t>(shape.z), static_cast<hsize_t>(shape.y),
                                    static_cast<hsize_t>(shape.x)};
  return data.dims.size() == 4 && std::equal(zyx.begin(), zyx.end(), data.dims.begin() + 1);
}

std::string number_text(double v) {
  return v == std::round(v) && std::abs(v) < 1e15 ? std::to_string(static_cast<long long>(v)) : std::to_string(v);
}

void add_hdf5_file(const fs::path& file, const Manifest& m, Enumeration& e) {
  const H5Id f = open_h5(file);
  const auto first_label = static_cast<long>(m.get_integer("source.first_label", 1, -1000000, 1000000));  // NephNet subtracts 1 [V]
  const VoxelShape shape = voxel_shape(m);
  for (const auto& part : kParts) {
    const auto data = find_rows(f.get(), part.data_key, file);
    if (!data) continue;
    const auto labels = find_rows(f.get(), part.labels_key, file);
    if (!labels) throw InputError(file, std::string(part.data_key) + " has no " + part.labels_key);
    if (labels->rows != data->rows)
      throw InputError(file, std::string(part.data_key) + " has " + std::to_string(data->rows) + " rows but " +
                                 part.labels_key + " has " + std::to_string(labels->rows));
    if (!holds_voxels(*data, shape))
      throw InputError(file, data->dataset + ": rows of " + std::to_string(data->row_length) +
                                 " numbers do not hold 7x32x32 voxels (z, y, x)");
    const auto values = read_rows(f.get(), *labels, 0, labels->rows, file);
    for (hsize_t row = 0; row < labels->rows; ++row) {
      const double value = values[row * labels->row_length];
      const long label = std::lround(value) - first_label;
      if (value != std::round(value) || label < 0 || label >= static_cast<long>(m.labels.size())) {
        e.problems.push_back({file.filename().string() + ":" + part.labels_key + "[" + std::to_string(row) + "]",
                              "label " + number_text(value) + " is not a class " + std::to_string(first_label) + "-" +
                                  std::to_string(first_label + static_cast<long>(m.labels.size()) - 1)});
        continue;
      }
      const std::string id = file.filename().string() + "/" + part.data_key + "/" + std::to_string(row);
      e.samples.push_back(cell_sample(id, static_cast<std::uint8_t>(label), file, static_cast<std::int64_t>(row)));
    }
    e.notes.push_back(file.filename().string() + ": " + part.data_key + " " + std::to_string(data->rows) +
                      " rows (" + data->kind() + ")");
  }
}

Image project_hdf5_row(const Sample& s, const Manifest& m) {
  const H5Id f = open_h5(s.path);
  const std::string key = data_key_of(s.id);
  const auto rows = find_rows(f.get(), key, s.path);
  if (!rows) throw InputError(s.path, "no key " + key);
  const auto values = read_rows(f.get(), *rows, static_cast<hsize_t>(s.aux), 1, s.path);
  const VoxelShape shape = voxel_shape(m);
  const double scale = m.get_number("source.voxel_scale", 1.0);  // 255 for 0-1 floats
  Image volume(shape.x, shape.y, shape.z, 1);  // C order (z, y, x) is Image's order
  for (std::size_t i = 0; i < shape.count(); ++i) {
    const double v = values[i] * scale;
    if (!(v >= -0.5 && v < 255.5))
      throw InputError(s.path, key + " row " + std::to_string(s.aux) + ": voxel value " + number_text(values[i]) +
                                   " is outside 0-255");
    volume.pixels[i] = static_cast<std::uint8_t>(std::lround(v));
  }
  return max_projection_z(volume);
}

// The plain layout: "file,label" CSV; file relative to the CSV's folder, label a
// class name of the manifest (case-insensitive) or its 0-based index.
std::optional<fs::path> find_label_csv(const fs::path& source) {
  for (const auto& csv : find_files_with_extension(source, {".csv"})) {
    const auto lines = read_lines(csv);
    if (!lines.empty() && to_lower(trim(lines[0])).rfind("file,label", 0) == 0) return csv;
  }
  return std::nullopt;
}

std::uint8_t parse_class(const std::string& text, const std::vector<std::string>& names) {
  const std::string t = trim(text);
  if (!t.empty() && t.find_first_not_of("0123456789") == std::string::npos && std::stoul(t) < names.size())
    return static_cast<std::uint8_t>(std::stoul(t));
  for (std::size_t i = 0; i < names.size(); ++i)
    if (to_lower(names[i]) == to_lower(t)) return static_cast<std::uint8_t>(i);
  throw std::invalid_argument("label '" + t + "' is neither a TissueMNIST class name nor 0-" +
                              std::to_string(names.size() - 1));
}

void add_tiff_stacks(const fs::path& csv, const fs::path& source, const Manifest& m, Enumeration& e) {
  const auto lines = read_lines(csv);
  std::set<fs::path> listed;
  std::set<std::string> ids;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (trim(lines[i]).empty()) continue;
    const std::string where = csv.filename().string() + ":" + std::to_string(i + 1);
    try {
      const auto f = split_csv_line(lines[i]);
      if (f.size() != 2) throw std::invalid_argument("expected 2 fields (file,label), got " + std::to_string(f.size()));
      std::string file = trim(f[0]);
      std::replace(file.begin(), file.end(), '\\', '/');
      const std::uint8_t label = parse_class(f[1], m.labels);
      const fs::path path = (csv.parent_path() / file).lexically_normal();
      const std::string id = path.filename().string();
      if (!ids.insert(id).second) throw std::invalid_argument("duplicate file name " + id);
      listed.insert(path);
      if (!fs::exists(path)) {
        e.missing.push_back(display_path(path, source));
        continue;
      }
      e.samples.push_back(cell_sample(id, label, path));
    } catch (const std::invalid_argument& err) {
      e.problems.push_back({where, err.what()});
    }
  }
  for (const auto& p : find_files_with_extension(csv.parent_path(), {".tif", ".tiff"}))
    if (!listed.count(p.lexically_normal())) e.unexpected.push_back(p);
}

Image project_tiff_stack(const Sample& s, const Manifest& m) {
  const auto pages = read_image_pages(s.path);
  const VoxelShape shape = voxel_shape(m);
  // OpenCV returns the pages it could decode, so a truncated stack shows up as too few.
  if (static_cast<int>(pages.size()) < shape.z)
    throw InputError(s.path, "only " + std::to_string(pages.size()) + " of " + std::to_string(shape.z) +
                                 " pages (z slices) could be read (truncated or damaged TIFF?)");
  if (static_cast<int>(pages.size()) > shape.z)
    throw InputError(s.path, std::to_string(pages.size()) + " pages, expected " + std::to_string(shape.z) + " z slices");
  Image volume(pages[0].width, pages[0].height, shape.z, 1);
  const std::size_t plane = static_cast<std::size_t>(volume.width) * volume.height;
  for (int z = 0; z < shape.z; ++z) {
    const Image page = to_channels(pages[z], 1);
    if (page.width != volume.width || page.height != volume.height)
      throw InputError(s.path, "page " + std::to_string(z) + " has a different size from page 0");
    std::copy(page.pixels.begin(), page.pixels.end(), volume.pixels.begin() + z * plane);
  }
  return max_projection_z(volume);
}

std::vector<fs::path> find_hdf5_files(const fs::path& source) {
  return find_files_with_extension(source, {".h5", ".hdf5", ".hdf"});
}

class NephNucCells final : public Converter {
 public:
  std::string flag() const override { return "tissuemnist"; }
  std::string source_summary() const override {
    return "BBBC051 / NephNuc: HDF5 (train_data, train_labels, test_data, test_labels) or 7-page TIFFs + file,label CSV";
  }
  bool identify(const fs::path& source) const override {
    return !find_hdf5_files(source).empty() || find_label_csv(source).has_value();
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    const std::string layout = m.get_string("source.layout", "auto");
    const auto h5_files = find_hdf5_files(source);
    if (layout == "hdf5" || (layout == "auto" && !h5_files.empty())) {
      if (h5_files.empty()) throw InputError(source, "no .h5/.hdf5 file found");
      for (const auto& file : h5_files) add_hdf5_file(file, m, e);
      if (e.samples.empty() && e.problems.empty())
        throw InputError(h5_files.front(), "no train_data or test_data key (NephNet layout)");
      e.layout = "HDF5 (NephNet keys)";
    } else if (const auto csv = find_label_csv(source)) {
      add_tiff_stacks(*csv, source, m, e);
      e.layout = "TIFF stacks + " + csv->filename().string();
    } else {
      throw InputError(source, "neither an HDF5 file nor a CSV with header 'file,label' found");
    }
    const auto r = m.get_numbers("split.ratios", {7, 1, 2});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = "source train and test pooled, 7:1:2 image by image";
    return e;
  }

  Image load(const Sample& s, const Manifest& m) const override {
    const std::string ext = to_lower(s.path.extension().string());
    return ext == ".tif" || ext == ".tiff" ? project_tiff_stack(s, m) : project_hdf5_row(s, m);
  }
};

}  // namespace

std::unique_ptr<Converter> make_tissuemnist_converter() { return std::make_unique<NephNucCells>(); }

}  // namespace mmb
