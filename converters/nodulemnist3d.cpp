// NoduleMNIST3D <- LIDC-IDRI (docs/datasets/nodulemnist3d.md).
//
// Recipe: the CT series of the tree (DICOM at any depth, NBIA or classic folder
// names; other modalities ignored) and one LidcReadMessage XML per series,
// matched by SeriesInstanceUid. The reader nodules pylidc's ingest keeps
// (lidc_xml.h) are clustered exactly as pylidc's cluster_annotations does
// (lidc_consensus.h; tol = the series' SliceThickness). Each cluster is a
// nodule; its label is the mode of its readers' malignancy scores (the ACSConv
// malignancy_mode MedMNIST's authors used; ties to the lowest), 1/2 -> benign,
// 4/5 -> malignant, 3 dropped [V: info.py]. Its crop: a 28 mm cube on the
// scan's axes around the cluster centroid (mean of the readers' contour-point
// means, index space -> physical), 1 mm voxels, cubic B-spline, -1024 HU
// outside the scan, lung window. The 64^3 file upsamples that 28^3 crop, as
// MedMNIST+ did (on_medmnist_plus.md); preprocess.large_sizes = "native" cuts a
// 64 mm crop at 1 mm instead. Blank (constant) crops are dropped and recorded.
// Split: 7:1:2 by patient (LIDC-IDRI-xxxx). Each CT series is a unit: its
// slices are read once and every nodule of it is cut from that volume.
#include <map>
#include <regex>

#include "common/io/dicom_series.h"
#include "common/io/files.h"
#include "common/ops/resize.h"
#include "common/ops/roi_resample.h"
#include "common/ops/volume_ops.h"
#include "common/ops/window.h"
#include "common/pipeline/converter.h"
#include "converters/lidc_consensus.h"
#include "converters/lidc_listing.h"
#include "converters/lidc_xml.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

const std::regex kPatientFolder(R"(LIDC-IDRI-\d{4})");

// ---- recipe parameters (manifest) ----------------------------------------------------------

struct CropParams {
  double crop_mm;
  int crop_voxels;
  float fill;
  HuWindow window;
  ResizeKernel kernel;
  bool native_large;  // larger sizes cut at 1 mm voxels rather than upsampled
  bool drop_blank;
};

CropParams crop_params(const Manifest& m) {
  const std::string large = m.get_string("preprocess.large_sizes", "upsample");
  if (large != "upsample" && large != "native")
    throw std::runtime_error(m.file.string() + ": preprocess.large_sizes must be \"upsample\" or \"native\"");
  return {m.get_number("preprocess.crop_mm", 28), static_cast<int>(m.get_integer("preprocess.crop_voxels", 28, 1, 4096)),
          static_cast<float>(m.get_number("preprocess.fill_hu", -1024)),
          HuWindow{m.get_number("preprocess.window_level", -600), m.get_number("preprocess.window_width", 1500)},
          parse_resize_kernel(m.get_string("preprocess.resize_kernel", "spline")), large == "native",
          m.get_string("preprocess.blank", "drop") == "drop"};
}

SliceStepCheck step_check(const Manifest& m) {
  SliceStepCheck c;
  c.relative_tolerance = m.get_number("source.slice_step_tolerance", c.relative_tolerance);
  return c;
}

lidc::MalignancyRule malignancy_rule(const Manifest& m) {
  return {lidc::parse_aggregate(m.get_string("source.malignancy", "mode")),
          lidc::parse_mode_tie(m.get_string("source.mode_tie", "lowest"))};
}

// ---- one series' nodules (shared by enumerate and read_unit, so both number them alike) ------

struct SeriesNodules {
  std::vector<lidc::Annotation> annotations;
  lidc::Clustering clustering;
  double initial_tol = 0;
};

// pylidc's tol default is the series' SliceThickness (Scan.cluster_annotations;
// its docstring's pixel spacing is wrong: pylidc/Scan.py cluster_annotations).
SeriesNodules cluster_series(const lidc::ReadMessage& message, const DicomSeries& series, double step) {
  std::vector<double> slice_z;
  for (const auto& s : series.slices) slice_z.push_back(s.z());
  SeriesNodules out;
  for (const auto& n : message.nodules) out.annotations.push_back(lidc::to_index_space(n, slice_z));
  out.initial_tol = series.slice_thickness > 0 ? series.slice_thickness : step;
  out.clustering = lidc::cluster_annotations(out.annotations, {out.initial_tol});
  return out;
}

std::string patient_of(const DicomSeries& series) {
  if (!series.patient_id.empty()) return series.patient_id;
  for (const auto& part : series.folder)  // PatientID blank: the LIDC-IDRI-xxxx folder names the patient
    if (std::regex_match(part.string(), kPatientFolder)) return part.string();
  return series.series_uid;
}

// "LIDC-IDRI-0001_s1_n03": the patient's 1st CT series (in SeriesInstanceUID order), its 3rd cluster.
std::string nodule_id(const std::string& patient, int series_ordinal, std::size_t cluster) {
  const std::string n = std::to_string(cluster + 1);
  return patient + "_s" + std::to_string(series_ordinal) + "_n" + (n.size() < 2 ? "0" : "") + n;
}

class LidcIdri final : public Converter {
 public:
  std::string flag() const override { return "nodulemnist3d"; }
  std::string source_summary() const override {
    return "LIDC-IDRI (TCIA): CT DICOM series in NBIA or classic UID folders, any depth, + LidcReadMessage XML "
           "(beside the slices or in tcia-lidc-xml/)";
  }
  bool identify(const fs::path& source) const override {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(source, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it.depth() >= 2) it.disable_recursion_pending();
      if (it->is_directory() && std::regex_match(it->path().filename().string(), kPatientFolder)) return true;
    }
    return false;
  }

  Enumeration enumerate(const fs::path& source, const Manifest& m) const override {
    Enumeration e;
    e.layout = "LIDC-IDRI: CT DICOM series + LidcReadMessage XML";
    e.split_rule = m.get_string("split.rule", "7:1:2 by patient");
    const auto r = m.get_numbers("split.ratios", {7, 1, 2});
    e.ratios = {r.at(0), r.at(1), r.at(2)};
    lidc::ListingTally t;
    const DicomTree tree = scan_dicom_tree(source);
    auto messages = lidc::read_messages(source, e, t);
    std::map<std::string, int> series_count;  // per patient: series are numbered in SeriesInstanceUID order
    for (const auto& series : tree.ct) {
      const int ordinal = ++series_count[patient_of(series)];
      const auto it = messages.find(series.series_uid);
      if (it == messages.end()) {
        e.unexpected.push_back(series.folder);  // a CT series without reader XML gives no nodule
        continue;
      }
      t.count_ingest(it->second);
      add_series(series, it->second, ordinal, m, source, e, t);
      messages.erase(it);
    }
    for (const auto& [uid, msg] : messages)
      e.missing.push_back("CT series " + uid + " (named by " + display_path(msg.file, source) + ")");
    for (const auto& s : tree.skipped_series) e.notes.push_back("not CT, ignored: " + s);
    for (const auto& bad : tree.unreadable)
      if (std::none_of(tree.ct.begin(), tree.ct.end(), [&](const auto& s) { return fs::path(bad.where).parent_path() == s.folder; }))
        e.notes.push_back("ignored (in no CT series folder): " + display_path(bad.where, source) + ": " + bad.reason);
    lidc::report_tally(t, e);
    return e;
  }

  std::unique_ptr<UnitData> read_unit(const Sample& first, const Manifest& m) const override {
    const auto bar = first.unit.find('|');
    const fs::path folder = first.unit.substr(0, bar), xml = first.unit.substr(bar + 1);
    const lidc::ReadMessage msg = lidc::read_lidc_xml(xml);
    DicomSeries series;
    for (auto& s : scan_dicom_tree(folder).ct)
      if (s.series_uid == msg.series_uid) series = std::move(s);
    if (series.series_uid.empty()) throw InputError(folder, "no CT series " + msg.series_uid + " here any more");
    auto unit = std::make_unique<SeriesVolume>();
    unit->hu = read_ct_series(series, step_check(m));
    const SeriesNodules nodules = cluster_series(msg, series, checked_slice_step(series.slices, folder, step_check(m)));
    for (const auto& members : nodules.clustering.clusters) {
      const auto c = lidc::cluster_centroid(nodules.annotations, members);  // (row, column, slice)
      unit->centres_mm.push_back(unit->hu.to_physical({c[1], c[0], c[2]}));
    }
    return unit;
  }

  std::vector<Image> render(const Sample& s, const Manifest& m, const std::vector<int>& sizes,
                            const UnitData* unit) const override {
    const auto& series = dynamic_cast<const SeriesVolume&>(*unit);
    if (s.aux < 0 || static_cast<std::size_t>(s.aux) >= series.centres_mm.size())
      throw InputError(s.path, "nodule " + s.id + " is no longer in its XML");
    const CropParams p = crop_params(m);
    const auto& centre = series.centres_mm[static_cast<std::size_t>(s.aux)];
    const Image crop = windowed_crop(series.hu, centre, p.crop_mm, p.crop_voxels, p);
    if (p.drop_blank && is_constant(crop))
      throw SampleDropped("blank crop (one gray value under the window), as MedMNIST v2.1.0 dropped its all-zero "
                          "test volumes");
    std::vector<Image> out;
    const double voxel_mm = p.crop_mm / p.crop_voxels;
    for (int size : sizes) {
      if (size == p.crop_voxels) out.push_back(crop);
      else if (p.native_large) out.push_back(windowed_crop(series.hu, centre, size * voxel_mm, size, p));
      else out.push_back(resize(crop, size, size, size, p.kernel));
    }
    return out;
  }

  // The 1 mm crop (for callers outside the pipeline; the pipeline uses render).
  Image load(const Sample& s, const Manifest& m) const override {
    return render(s, m, {crop_params(m).crop_voxels}, read_unit(s, m).get()).front();
  }

 private:
  struct SeriesVolume final : UnitData {
    Volume hu;
    std::vector<std::array<double, 3>> centres_mm;  // per cluster, in cluster order
  };

  static Image windowed_crop(const Volume& hu, const std::array<double, 3>& centre, double mm, int voxels,
                             const CropParams& p) {
    RoiRequest roi;
    roi.centre_mm = centre;
    roi.size_mm = {mm, mm, mm};
    roi.out_size = {voxels, voxels, voxels};
    roi.fill = p.fill;
    return window_to_image(resample_roi(hu, roi), p.window);
  }

  static void add_series(const DicomSeries& series, const lidc::ReadMessage& msg, int ordinal, const Manifest& m,
                         const fs::path& source, Enumeration& e, lidc::ListingTally& t) {
    for (const auto& p : msg.problems) e.problems.push_back({display_path(p.where, source), p.reason});
    const std::string folder = display_path(series.folder, source);
    lidc::report_missing_slices(series, msg, source, e);
    if (!series.unreadable.empty()) {
      e.problems.push_back({display_path(series.unreadable.front().where, source), series.unreadable.front().reason});
      return;
    }
    double step = 0;
    try {
      step = checked_slice_step(series.slices, series.folder, step_check(m));
    } catch (const InputError& err) {
      e.problems.push_back({folder, err.reason()});
      return;
    }
    for (const auto& d : series.duplicates)
      e.notes.push_back(folder + ": duplicate z " + std::to_string(d.z()) + ": " + d.file.filename().string() +
                        " (InstanceNumber " + std::to_string(d.instance_number) + ") dropped, the smaller InstanceNumber kept");
    SeriesNodules nodules;
    try {
      nodules = cluster_series(msg, series, step);
    } catch (const lidc::ClusterError& err) {
      // pylidc raises ClusterError for real LIDC series too (pylidc/Scan.py,
      // cluster_annotations): a documented source quirk, skipped and counted by default.
      e.quirks.push_back({display_path(msg.file, source), std::string("clustering failed (pylidc ClusterError): ") + err.what()});
      return;
    }
    if (nodules.clustering.tol < nodules.initial_tol)
      e.notes.push_back(folder + ": clustering tolerance shrunk from " + std::to_string(nodules.initial_tol) + " to " +
                        std::to_string(nodules.clustering.tol) + " to keep clusters within 4 readers");
    add_samples(series, msg, nodules, ordinal, m, e, t);
  }

  static void add_samples(const DicomSeries& series, const lidc::ReadMessage& msg, const SeriesNodules& nodules,
                          int ordinal, const Manifest& m, Enumeration& e, lidc::ListingTally& t) {
    const auto rule = malignancy_rule(m);
    const auto min_readers = static_cast<std::size_t>(m.get_integer("source.min_readers", 1, 1, 1000));
    const auto& clusters = nodules.clustering.clusters;
    t.clusters += static_cast<int>(clusters.size());
    for (std::size_t c = 0; c < clusters.size(); ++c) {
      std::vector<int> scores;
      for (auto i : clusters[c]) scores.push_back(nodules.annotations[i].malignancy);
      const auto label = lidc::malignancy_label(lidc::aggregate_malignancy(scores, rule));
      if (!label) ++t.indeterminate;
      else if (clusters[c].size() < min_readers) ++t.too_few_readers;
      if (!label || clusters[c].size() < min_readers) continue;
      Sample s;
      s.id = nodule_id(patient_of(series), ordinal, c);
      s.subject = patient_of(series);
      s.label = {*label};
      s.path = series.folder;
      s.aux = static_cast<std::int64_t>(c);
      s.unit = series.folder.string() + "|" + msg.file.string();  // read_unit's inputs; sorts by series
      e.samples.push_back(std::move(s));
    }
  }
};

}  // namespace

std::unique_ptr<Converter> make_nodulemnist3d_converter() { return std::make_unique<LidcIdri>(); }

}  // namespace mmb
