// SynapseMNIST3D <- an EM volume + a synapse table (MedMNIST v2 paper, Yang et al., Scientific
// Data 2023; docs/datasets/synapsemnist3d.md).
//
// The rat-cortex volume and its excitatory/inhibitory labels were never
// released, so the input is our documented format, which a lab holding such
// data can write:
//   volume.toml (or volume.json)  voxel_size_nm = [8, 8, 30]; slices = "im"
//                                 (PNG/TIFF folder) or hdf5 = "..." + dataset
//   synapses.csv                  id,x,y,z,label[,neuron_id]  (voxels; label
//                                 excitatory | inhibitory)
// Recipe (INFO: "1024 nm³ crops around each synapse resized to 28³"): a cube
// of crop_nm around each synapse, round(crop_nm / voxel size) voxels per axis
// (128 x 128 x 34 at 8 x 8 x 30 nm), resized anisotropically to 28³ and 64³
// with the anti-aliased cubic spline. Outside the volume: preprocess.outside_fill.
// Labels 0 inhibitory, 1 excitatory (INFO). Split: random 7:1:2, grouped by
// neuron_id when the table has one.
// Memory: the volume is never loaded whole. Every crop is announced to the
// SliceStack at enumeration; a slice is then decoded once, copied into every
// crop that contains it and released (slice_stack.h). Crops are ordered by z
// inside each split (Sample::unit is a z key), so the crops being assembled at
// any time are neighbours.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "common/io/csv.h"
#include "common/io/files.h"
#include "common/io/slice_stack.h"
#include "common/ops/resize.h"
#include "common/pipeline/converter.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

struct VolumeSpec {
  fs::path metadata, volume, synapses;
  std::string dataset;                          // HDF5 only
  bool hdf5 = false;
  std::array<double, 3> voxel_nm{8, 8, 30};     // x, y, z
};

template <class Get>
VolumeSpec spec_from(const fs::path& metadata, Get get) {
  VolumeSpec v{metadata, {}, {}, get("dataset").value_or(""), false, {8, 8, 30}};
  const fs::path dir = metadata.parent_path();
  const auto hdf5 = get("hdf5");
  v.volume = dir / (hdf5 ? *hdf5 : get("slices").value_or("im"));
  v.hdf5 = hdf5.has_value();
  v.synapses = dir / get("synapses").value_or("synapses.csv");
  return v;
}

std::array<double, 3> voxel_size(const fs::path& file, const std::vector<double>& v) {
  if (v.size() != 3 || !(v[0] > 0 && v[1] > 0 && v[2] > 0) || !std::isfinite(v[0] + v[1] + v[2]))
    throw InputError(file, "voxel_size_nm must be three positive numbers [x, y, z]");
  return {v[0], v[1], v[2]};
}

VolumeSpec read_toml_spec(const fs::path& file) {
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw InputError(file, std::string("malformed TOML: ") + std::string(e.description()));
  }
  auto spec = spec_from(file, [&](const char* key) { return t[key].value<std::string>(); });
  if (const auto* a = t["voxel_size_nm"].as_array()) {
    std::vector<double> v;
    for (const auto& x : *a)
      if (auto n = x.value<double>()) v.push_back(*n);
    spec.voxel_nm = voxel_size(file, v);
  }
  return spec;
}

VolumeSpec read_json_spec(const fs::path& file) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(std::ifstream(file));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file, std::string("malformed JSON: ") + e.what());
  }
  auto spec = spec_from(file, [&](const char* key) -> std::optional<std::string> {
    if (j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
    return std::nullopt;
  });
  if (j.contains("voxel_size_nm")) {
    if (!j["voxel_size_nm"].is_array()) throw InputError(file, "voxel_size_nm must be an array");
    std::vector<double> v;
    for (const auto& x : j["voxel_size_nm"])
      if (x.is_number()) v.push_back(x.get<double>());
    spec.voxel_nm = voxel_size(file, v);
  }
  return spec;
}

std::optional<fs::path> find_metadata(const fs::path& source) {
  for (const char* name : {"volume.toml", "volume.json"})
    if (auto f = find_file_named(source, name)) return f;
  return std::nullopt;
}

struct Synapse {
  std::string id, neuron;
  std::array<int, 3> voxel{};  // x, y, z
  std::uint8_t label = 0;
};

// One row of synapses.csv; throws std::invalid_argument with the reason.
Synapse parse_synapse(const std::vector<std::string>& f, const std::map<std::string, std::size_t>& column,
                      const std::vector<std::string>& label_names) {
  auto field = [&](const std::string& name) { return column.count(name) ? trim(f.at(column.at(name))) : std::string(); };
  Synapse s{field("id"), field("neuron_id"), {}, 0};
  if (s.id.empty()) throw std::invalid_argument("empty id");
  const char* axes[3] = {"x", "y", "z"};
  for (int a = 0; a < 3; ++a) {
    const std::string text = field(axes[a]);
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(text, &used);
    } catch (const std::exception&) {
    }
    if (text.empty() || used != text.size() || !std::isfinite(v))
      throw std::invalid_argument(std::string(axes[a]) + " is not a number: '" + text + "'");
    // Checked before the conversion: 1e300 or 2147483647 would overflow (UB) and land
    // anywhere. No volume has 2^21 voxels on an axis (the packing in Sample::aux).
    if (!(v >= -0.5 && v < (1 << 21) - 0.5))
      throw std::invalid_argument(std::string(axes[a]) + " = " + text + " is outside any volume (0 .. 2097151)");
    s.voxel[a] = static_cast<int>(std::lround(v));
  }
  const auto label = std::find(label_names.begin(), label_names.end(), to_lower(field("label")));
  if (label == label_names.end()) throw std::invalid_argument("label must be excitatory or inhibitory, got '" + field("label") + "'");
  s.label = static_cast<std::uint8_t>(label - label_names.begin());
  return s;
}

std::vector<Synapse> read_synapses(const fs::path& csv, const std::vector<std::string>& label_names, Enumeration& e) {
  const auto lines = read_lines(csv);
  std::map<std::string, std::size_t> column;
  const auto header = lines.empty() ? std::vector<std::string>{} : split_csv_header(csv, lines[0]);
  for (std::size_t i = 0; i < header.size(); ++i) column[to_lower(trim(header[i]))] = i;
  for (const char* required : {"id", "x", "y", "z", "label"})
    if (!column.count(required)) throw InputError(csv, std::string("header has no '") + required + "' column (expected id,x,y,z,label[,neuron_id])");
  std::vector<Synapse> out;
  std::set<std::string> ids;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (trim(lines[i]).empty()) continue;
    try {
      require_utf8(lines[i]);
      const auto fields = split_csv_line(lines[i]);
      if (fields.size() != header.size())
        throw std::invalid_argument("expected " + std::to_string(header.size()) + " fields, got " + std::to_string(fields.size()));
      Synapse s = parse_synapse(fields, column, label_names);
      if (!ids.insert(s.id).second) throw std::invalid_argument("duplicate id " + s.id);
      out.push_back(std::move(s));
    } catch (const std::invalid_argument& err) {
      e.problems.push_back({csv.filename().string() + ":" + std::to_string(i + 1), err.what()});
    }
  }
  return out;
}

// The crop box around a synapse: n voxels per axis, the synapse voxel at n / 2.
StackBox crop_box(const std::array<int, 3>& centre, const std::array<int, 3>& n) {
  StackBox b;
  for (int a = 0; a < 3; ++a) {
    b.start[a] = centre[a] - n[a] / 2;
    b.size[a] = n[a];
  }
  return b;
}

// Sample::aux holds the synapse voxel: 21 bits per axis.
constexpr int kAxisBits = 21;
std::int64_t pack(const std::array<int, 3>& v) {
  return (std::int64_t(v[2]) << (2 * kAxisBits)) | (std::int64_t(v[1]) << kAxisBits) | v[0];
}
std::array<int, 3> unpack(std::int64_t aux) {
  const std::int64_t mask = (std::int64_t(1) << kAxisBits) - 1;
  return {int(aux & mask), int((aux >> kAxisBits) & mask), int(aux >> (2 * kAxisBits))};
}

// What render() needs of a volume, opened by the last enumeration.
struct OpenVolume {
  std::shared_ptr<SliceStack> stack;
  std::array<int, 3> crop{};
  std::uint8_t fill = 0;
  ResizeKernel kernel = ResizeKernel::Spline;
};

class EmSynapses final : public Converter {
 public:
  std::string flag() const override { return "synapsemnist3d"; }
  std::string source_summary() const override {
    return "EM volume (slice folder im/im0000.png... or HDF5) + volume.toml|json (voxel_size_nm) + synapses.csv "
           "(id,x,y,z,label[,neuron_id])";
  }
  bool identify(const fs::path& source) const override {
    return find_metadata(source) && find_file_named(source, "synapses.csv");
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    const auto metadata = find_metadata(source);
    if (!metadata) throw InputError(source, "no volume.toml or volume.json (see docs/datasets/synapsemnist3d.md)");
    const VolumeSpec spec = metadata->extension() == ".json" ? read_json_spec(*metadata) : read_toml_spec(*metadata);
    OpenVolume volume = open_volume(spec, m);
    describe(spec, volume, source, e);
    const auto synapses = read_synapses(spec.synapses, m.get_strings("source.label_names", {"inhibitory", "excitatory"}), e);
    std::vector<std::string> padded;
    for (const auto& s : synapses) {
      const StackBox box = crop_box(s.voxel, volume.crop);
      if (!StackBox{s.voxel, {1, 1, 1}}.inside(volume.stack->shape())) {
        e.problems.push_back({display_path(spec.synapses, source), "synapse " + s.id + " lies outside the volume"});
        continue;
      }
      if (!box.inside(volume.stack->shape())) padded.push_back(s.id);
      volume.stack->expect(box);
      e.samples.push_back(sample_of(s, spec.volume));
    }
    if (!padded.empty()) e.notes.push_back(padding_note(padded, volume.fill));
    const auto r = m.get_numbers("split.ratios", {7, 1, 2});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    e.split_rule = column_present(synapses) ? "7:1:2 of the synapses (neuron_id groups with --group subject)"
                                            : "7:1:2 of the synapses";
    remember(spec.volume, std::move(volume));
    return e;
  }

  Image load(const Sample& s, const Manifest&) const override {
    const OpenVolume v = opened(s.path);
    return v.stack->read_box(crop_box(unpack(s.aux), v.crop), v.fill);
  }

  std::vector<Image> render(const Sample& s, const Manifest& m, const std::vector<int>& sizes,
                            const UnitData*) const override {
    return resize_to_sizes(load(s, m), sizes, opened(s.path).kernel);  // anisotropic box -> cubes
  }

 private:
  static OpenVolume open_volume(const VolumeSpec& spec, const Manifest& m) {
    OpenVolume v;
    const double crop_nm = m.get_number("preprocess.crop_nm", 1024);
    // The crop's voxels come from crop_nm / voxel_size_nm: a voxel size typed as 0.5 nm
    // would ask for 2048^3 crops. Refused before anything is read or allocated.
    const double max_voxels = m.get_number("source.max_crop_voxels", 1 << 26);
    double voxels = 1;
    for (int a = 0; a < 3; ++a) voxels *= std::floor(crop_nm / spec.voxel_nm[a] + 0.5);
    if (!(voxels >= 1 && voxels <= max_voxels)) {
      char text[200];
      std::snprintf(text, sizeof text, "voxel_size_nm and crop_nm = %g give crops of %.0f voxels, outside 1 .. %.0f "
                    "(source.max_crop_voxels)", crop_nm, voxels, max_voxels);
      throw InputError(spec.metadata, text);
    }
    for (int a = 0; a < 3; ++a) v.crop[a] = static_cast<int>(std::floor(crop_nm / spec.voxel_nm[a] + 0.5));
    v.fill = static_cast<std::uint8_t>(m.get_integer("preprocess.outside_fill", 0, 0, 255));
    v.kernel = parse_resize_kernel(m.get_string("preprocess.resize_kernel", "spline"));
    SliceStackOptions o;
    o.hdf5_dataset = spec.dataset;
    o.waiting_crop_bytes = static_cast<std::size_t>(m.get_integer(
                               "source.waiting_crops_mb", static_cast<std::int64_t>(o.waiting_crop_bytes >> 20), 0, 1 << 30))
                           << 20;
    v.stack = open_slice_stack(spec.volume, o);
    const auto& s = v.stack->shape();
    if (std::max({s.width, s.height, s.depth}) >= (1 << kAxisBits)) throw InputError(spec.volume, "volume too large");
    return v;
  }

  static void describe(const VolumeSpec& spec, const OpenVolume& v, const fs::path& source, Enumeration& e) {
    const auto& s = v.stack->shape();
    e.layout = std::string(spec.hdf5 ? "HDF5 dataset " : "slice folder ") + display_path(spec.volume, source) + ", " + std::to_string(s.width) + "x" +
               std::to_string(s.height) + "x" + std::to_string(s.depth) + " voxels";
    char text[160];
    std::snprintf(text, sizeof text, "voxel %gx%gx%g nm; crops of %dx%dx%d voxels", spec.voxel_nm[0], spec.voxel_nm[1],
                  spec.voxel_nm[2], v.crop[0], v.crop[1], v.crop[2]);
    e.notes.push_back(text);
    for (const auto& p : v.stack->missing_slices()) e.missing.push_back(display_path(p, source));
    for (const auto& p : v.stack->unexpected_files()) e.unexpected.push_back(p);
  }

  static Sample sample_of(const Synapse& s, const fs::path& volume) {
    char unit[32];
    std::snprintf(unit, sizeof unit, "z%07d", s.voxel[2]);  // orders crops by z inside each split
    Sample out;
    out.id = s.id;
    out.subject = s.neuron.empty() ? "" : "neuron " + s.neuron;
    out.label = {s.label};
    out.path = volume;
    out.aux = pack(s.voxel);
    out.unit = unit;
    return out;
  }

  static std::string padding_note(const std::vector<std::string>& ids, std::uint8_t fill) {
    std::string text = std::to_string(ids.size()) + " crops reach outside the volume and are padded with " +
                       std::to_string(fill) + ":";
    for (std::size_t i = 0; i < ids.size() && i < 20; ++i) text += " " + ids[i];
    return ids.size() > 20 ? text + " ..." : text;
  }

  static bool column_present(const std::vector<Synapse>& synapses) {
    return std::any_of(synapses.begin(), synapses.end(), [](const Synapse& s) { return !s.neuron.empty(); });
  }

  void remember(const fs::path& volume, OpenVolume v) const {
    std::lock_guard lock(mutex_);
    volumes_[volume] = std::move(v);
  }

  OpenVolume opened(const fs::path& volume) const {
    std::lock_guard lock(mutex_);
    auto it = volumes_.find(volume);
    if (it == volumes_.end()) throw std::logic_error("synapsemnist3d: render before enumerate for " + volume.string());
    return it->second;
  }

  mutable std::mutex mutex_;
  mutable std::map<fs::path, OpenVolume> volumes_;  // by volume path, from the last enumerate()
};

}  // namespace

std::unique_ptr<Converter> make_synapsemnist3d_converter() { return std::make_unique<EmSynapses>(); }

}  // namespace mmb
