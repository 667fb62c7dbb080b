// CT DICOM series: one header scan of the tree (gdcm::Scanner), then one GDCM
// read per slice (gdcm::ImageReader), rescaled to HU straight into the
// volume. See dicom_series.h for the rules.
#include "common/io/dicom_series.h"

#include <gdcmAttribute.h>
#include <gdcmImageReader.h>
#include <gdcmReader.h>
#include <gdcmScanner.h>
#include <gdcmTrace.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include "common/core/allocator.h"
#include "common/io/files.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

const gdcm::Tag kPatientId(0x0010, 0x0020), kStudyUid(0x0020, 0x000d), kSeriesUid(0x0020, 0x000e),
    kModality(0x0008, 0x0060), kSopUid(0x0008, 0x0018), kPosition(0x0020, 0x0032), kInstanceNumber(0x0020, 0x0013),
    kSliceThickness(0x0018, 0x0050);

// DICOM pads values to an even length with a space (or NUL for UIDs).
std::string clean(const char* value) {
  if (!value) return {};
  std::string s(value);
  const auto first = s.find_first_not_of(std::string(" \0", 2));
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(std::string(" \0", 2)) - first + 1);
}

std::optional<double> parse_number(const std::string& text) {
  double v = 0;
  const auto t = clean(text.c_str());
  const char* begin = t.data() + (t.starts_with('+') ? 1 : 0);
  const auto [end, ec] = std::from_chars(begin, t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// "x\y\z" -> 3 numbers (ImagePositionPatient).
std::optional<std::array<double, 3>> parse_triplet(const std::string& text) {
  std::array<double, 3> out{};
  std::stringstream in(text);
  std::string part;
  int n = 0;
  while (std::getline(in, part, '\\')) {
    const auto v = parse_number(part);
    if (!v || n == 3) return std::nullopt;
    out[n++] = *v;
  }
  if (n != 3) return std::nullopt;
  return out;
}

bool is_candidate(const fs::path& p) {
  const auto ext = to_lower(p.extension().string());
  return ext == ".dcm" || ext.empty();
}

void quiet_gdcm() {
  static std::once_flag once;
  std::call_once(once, [] {
    gdcm::Trace::DebugOff();
    gdcm::Trace::WarningOff();
    gdcm::Trace::ErrorOff();
  });
}

}  // namespace

// GDCM 3.0 asserts (aborting the process) on a file cut inside its file meta
// information (gdcmFileMetaInformation.cxx, "Should not happen"), so that group is
// walked here first: after the 128-byte preamble and "DICM", explicit-VR little-endian
// (0002,xxxx) elements, each of which must fit in the file, followed by at least one
// element header of the data set.
std::string dicom_meta_problem(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot open file";
  std::vector<unsigned char> b(1 << 16);  // the meta group is a few hundred bytes
  in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  b.resize(static_cast<std::size_t>(in.gcount()));
  if (b.size() < 132 || std::memcmp(&b[128], "DICM", 4) != 0) {
    // No Part 10 preamble: GDCM reads such files as raw data sets; a tiny one is no slice.
    return b.size() < 132 ? "not a DICOM file GDCM can parse" : "";
  }
  const auto u16 = [&](std::size_t o) { return static_cast<std::uint32_t>(b[o] | b[o + 1] << 8); };
  std::size_t pos = 132;
  while (pos + 8 <= b.size() && u16(pos) == 0x0002) {
    const std::string vr(reinterpret_cast<const char*>(&b[pos + 4]), 2);
    const bool long_form = vr == "OB" || vr == "OW" || vr == "OF" || vr == "SQ" || vr == "UT" || vr == "UN" ||
                           vr == "UC" || vr == "UR" || vr == "OD" || vr == "OL" || vr == "OV" || vr == "SV" || vr == "UV";
    std::uint64_t length = 0;
    std::size_t header = 8;
    if (long_form) {
      if (pos + 12 > b.size()) break;
      length = u16(pos + 8) | static_cast<std::uint64_t>(u16(pos + 10)) << 16;
      header = 12;
    } else {
      length = u16(pos + 6);
    }
    if (length == 0xFFFFFFFF || pos + header + length > b.size())
      return "truncated DICOM file: the file meta information (0002) element at byte " + std::to_string(pos) +
             " runs past the end (" + std::to_string(b.size()) + " bytes)";
    pos += header + length;
  }
  if (pos + 8 > b.size())
    return "truncated DICOM file: no data set after the file meta information (" + std::to_string(b.size()) + " bytes)";
  return "";
}

namespace {

// Groups scanned files by SeriesInstanceUID; CT series get their slice order.
DicomTree group_series(const std::vector<fs::path>& files, const fs::path& root) {
  quiet_gdcm();
  gdcm::Scanner scanner;
  for (const auto& tag : {kPatientId, kStudyUid, kSeriesUid, kModality, kSopUid, kPosition, kInstanceNumber, kSliceThickness})
    scanner.AddTag(tag);
  std::vector<std::string> names;
  std::map<fs::path, std::string> damaged;  // never handed to GDCM (see dicom_meta_problem)
  for (const auto& f : files) {
    if (auto problem = dicom_meta_problem(f); !problem.empty()) damaged.emplace(f, problem);
    else names.push_back(f.string());
  }
  scanner.Scan(names);

  DicomTree tree;
  std::map<std::string, DicomSeries> ct;
  std::map<std::string, std::vector<DicomSlice>> slices;
  std::map<fs::path, double> thickness;
  std::map<std::string, std::string> others;  // series uid -> "CR folder"
  for (const auto& file : files) {
    const std::string name = file.string();
    const auto value = [&](const gdcm::Tag& t) { return clean(scanner.GetValue(name.c_str(), t)); };
    if (auto d = damaged.find(file); d != damaged.end()) {
      if (to_lower(file.extension().string()) == ".dcm") tree.unreadable.push_back({file.string(), d->second});
      continue;
    }
    if (!scanner.IsKey(name.c_str())) {
      if (to_lower(file.extension().string()) == ".dcm")  // extensionless non-DICOM files are just other files
        tree.unreadable.push_back({file.string(), "not a DICOM file GDCM can parse"});
      continue;
    }
    const std::string uid = value(kSeriesUid), modality = value(kModality);
    if (uid.empty()) continue;  // DICOM but no series member: a DICOMDIR or the like
    if (modality != "CT") {
      others.emplace(uid, (modality.empty() ? "no Modality" : modality) + " " + display_path(file.parent_path(), root));
      continue;
    }
    DicomSeries& s = ct[uid];
    if (s.files.empty()) s = {value(kPatientId), value(kStudyUid), uid, file.parent_path(), {}, {}, {}, 0, {}};
    s.files.push_back(file);
    const auto position = parse_triplet(value(kPosition));
    if (!position) {
      s.unreadable.push_back({file.string(), "no valid ImagePositionPatient (0020,0032)"});
      continue;
    }
    const auto instance = parse_number(value(kInstanceNumber));
    if (instance && std::abs(*instance) > std::numeric_limits<int>::max()) {  // an IS holds at most 12 characters
      s.unreadable.push_back({file.string(), "InstanceNumber (0020,0013) " + value(kInstanceNumber) + " is out of range"});
      continue;
    }
    slices[uid].push_back({file, value(kSopUid), *position, instance ? static_cast<int>(*instance) : 0});
    thickness[file] = parse_number(value(kSliceThickness)).value_or(0);
  }
  for (auto& [uid, s] : ct) {
    s.slices = order_slices(std::move(slices[uid]), &s.duplicates);
    if (!s.slices.empty()) s.slice_thickness = thickness[s.slices.front().file];
    for (const auto& bad : tree.unreadable)
      if (fs::path(bad.where).parent_path() == s.folder) s.unreadable.push_back(bad);
    tree.ct.push_back(std::move(s));
  }
  std::sort(tree.ct.begin(), tree.ct.end(), [](const DicomSeries& a, const DicomSeries& b) {
    return std::tie(a.patient_id, a.series_uid) < std::tie(b.patient_id, b.series_uid);
  });
  for (const auto& [uid, what] : others) tree.skipped_series.push_back(what);
  std::sort(tree.skipped_series.begin(), tree.skipped_series.end());
  return tree;
}

std::string describe(const DicomSlice& s) {
  std::ostringstream out;
  out << s.file.filename().string() << " (z = " << s.z() << ")";
  return out.str();
}

double distance(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  return std::hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);  // numpy.median
}

// GDCM reads a file whose pixel data is cut short with only a warning
// ("Incomplete Pixel Data found, use file at own risk"), and ITK then returns
// the slice filled with garbage (measured on a slice cut to half its bytes).
// So the file must hold the whole uncompressed pixel value before ITK reads
// it. Reading up to PixelData while skipping its value leaves the stream at
// the value's first byte, without reading the pixels.
void check_not_truncated(const fs::path& file) {
  quiet_gdcm();
  if (auto problem = dicom_meta_problem(file); !problem.empty()) throw InputError(file, problem);
  const gdcm::Tag pixel_data(0x7fe0, 0x0010);
  gdcm::Reader reader;
  reader.SetFileName(file.c_str());
  if (!reader.ReadUpToTag(pixel_data, {pixel_data})) throw InputError(file, "not a DICOM file GDCM can parse");
  const gdcm::DataSet& ds = reader.GetFile().GetDataSet();
  // ReadUpToTag stops at PixelData's value, or reads a file without one to its end (the
  // element itself is not in the data set either way): nothing left means no pixels.
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(file, ec);
  if (!ec && static_cast<std::uintmax_t>(reader.GetStreamCurrentPosition()) >= size)
    throw InputError(file, "DICOM file has no pixel data (7FE0,0010)");
  const gdcm::TransferSyntax& syntax = reader.GetFile().GetHeader().GetDataSetTransferSyntax();
  if (syntax.IsEncapsulated()) return;  // compressed: the decoder sees a short stream itself
  gdcm::Attribute<0x0028, 0x0010> rows;
  gdcm::Attribute<0x0028, 0x0011> columns;
  gdcm::Attribute<0x0028, 0x0100> bits;
  gdcm::Attribute<0x0028, 0x0002> samples{1};
  rows.SetFromDataSet(ds), columns.SetFromDataSet(ds), bits.SetFromDataSet(ds), samples.SetFromDataSet(ds);
  const std::uintmax_t pixel_bytes = static_cast<std::uintmax_t>(rows.GetValue()) * columns.GetValue() *
                                     samples.GetValue() * ((bits.GetValue() + 7) / 8);
  if (pixel_bytes == 0) throw InputError(file, "DICOM header states no pixels (Rows, Columns or BitsAllocated is 0 or absent)");
  const std::uintmax_t needed = reader.GetStreamCurrentPosition() + pixel_bytes;
  if (!ec && size < needed)
    throw InputError(file, "truncated DICOM file: " + std::to_string(size) + " bytes, its pixel data ends at byte " +
                               std::to_string(needed));
}

// One slice as GDCM decodes it: the same gdcm::ImageReader, pixel buffer and
// RescaleSlope/RescaleIntercept that itk::GDCMImageIO used, without ITK's
// second read of the file (its ReadImageInformation and Read each parse it)
// and its buffer copies: ~13 ms CPU per 512 x 512 slice before (issue 12).
class SliceReader {
 public:
  void read(const fs::path& file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw InputError(file, "slice file is missing");
    check_not_truncated(file);
    reader_ = std::make_unique<gdcm::ImageReader>();
    reader_->SetFileName(file.c_str());
    if (!reader_->Read()) throw InputError(file, "unreadable DICOM slice (GDCM cannot read its image)");
    const gdcm::Image& image = reader_->GetImage();
    if (image.GetNumberOfDimensions() == 3 && image.GetDimension(2) > 1)
      throw InputError(file, "multi-frame DICOM; expected one slice per file");
    if (image.GetPixelFormat().GetSamplesPerPixel() != 1) throw InputError(file, "not a grayscale slice (samples per pixel != 1)");
    buffer_.resize(image.GetBufferLength());
    if (!image.GetBuffer(buffer_.data())) throw InputError(file, "unreadable DICOM slice (GDCM cannot decode its pixel data)");
  }
  const gdcm::Image& image() const { return reader_->GetImage(); }

  // The slice in HU: stored value * slope + intercept, as GDCM's Rescaler computes it.
  void to_hu(const fs::path& file, float* out, std::size_t n) const {
    const gdcm::Image& image = reader_->GetImage();
    const double slope = image.GetSlope(), intercept = image.GetIntercept();
    const auto convert = [&]<typename T>(T) {
      if (buffer_.size() < n * sizeof(T)) throw InputError(file, "pixel data shorter than the image size");
      const auto* raw = buffer_.data();
      for (std::size_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, raw + i * sizeof(T), sizeof(T));
        out[i] = static_cast<float>(static_cast<double>(v) * slope + intercept);
      }
    };
    switch (image.GetPixelFormat().GetScalarType()) {
      case gdcm::PixelFormat::UINT8: return convert(std::uint8_t{});
      case gdcm::PixelFormat::INT8: return convert(std::int8_t{});
      case gdcm::PixelFormat::UINT16: return convert(std::uint16_t{});
      case gdcm::PixelFormat::INT16: return convert(std::int16_t{});
      case gdcm::PixelFormat::UINT32: return convert(std::uint32_t{});
      case gdcm::PixelFormat::INT32: return convert(std::int32_t{});
      case gdcm::PixelFormat::FLOAT32: return convert(float{});
      case gdcm::PixelFormat::FLOAT64: return convert(double{});
      default:
        throw InputError(file, std::string("unsupported DICOM pixel type ") + image.GetPixelFormat().GetScalarTypeAsString());
    }
  }

 private:
  std::unique_ptr<gdcm::ImageReader> reader_;
  std::vector<char> buffer_;  // reused across the slices of a series
};

// In-plane geometry every slice must share.
struct PlaneGeometry {
  std::array<int, 2> size{};
  std::array<double, 2> spacing{};
  std::array<double, 6> cosines{};  // row cosine (i axis), column cosine (j axis)

  static PlaneGeometry of(const gdcm::Image& image) {
    PlaneGeometry g;
    g.size = {static_cast<int>(image.GetDimension(0)), static_cast<int>(image.GetDimension(1))};
    g.spacing = {image.GetSpacing(0), image.GetSpacing(1)};
    const double* d = image.GetDirectionCosines();
    for (int c = 0; c < 6; ++c) g.cosines[c] = d[c];
    return g;
  }
  bool matches(const PlaneGeometry& o) const {
    bool same = size == o.size;
    for (int a = 0; a < 2; ++a) same = same && std::abs(spacing[a] - o.spacing[a]) <= 1e-4 * spacing[a];
    for (int c = 0; c < 6; ++c) same = same && std::abs(cosines[c] - o.cosines[c]) <= 1e-4;
    return same;
  }
};

// Direction (row-major, columns = index axes) and k spacing of the stack.
void set_stack_geometry(Volume& v, const PlaneGeometry& g, const std::vector<DicomSlice>& slices, double step,
                        double thickness) {
  std::array<double, 3> u{}, row{g.cosines[0], g.cosines[1], g.cosines[2]}, col{g.cosines[3], g.cosines[4], g.cosines[5]};
  if (slices.size() > 1) {
    const double length = distance(slices.back().position, slices.front().position);
    for (int r = 0; r < 3; ++r) u[r] = (slices.back().position[r] - slices.front().position[r]) / length;
  } else {
    u = {row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2], row[0] * col[1] - row[1] * col[0]};
    step = thickness > 0 ? thickness : 1.0;
  }
  for (int r = 0; r < 3; ++r) {
    v.direction[3 * r + 0] = row[r];
    v.direction[3 * r + 1] = col[r];
    v.direction[3 * r + 2] = u[r];
  }
  v.spacing = {g.spacing[0], g.spacing[1], step};
  v.origin = slices.front().position;
}

}  // namespace

std::string probe_dicom_file(const fs::path& file) {
  try {
    check_not_truncated(file);
    return "";
  } catch (const InputError& e) {
    return e.reason();
  }
}

std::string probe_dicom_folder(const fs::path& folder) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder, ec))
    if (entry.is_regular_file(ec) && is_candidate(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    if (auto problem = probe_dicom_file(f); !problem.empty()) return f.filename().string() + ": " + problem;
  return "";
}

DicomTree scan_dicom_tree(const fs::path& root) { return group_series(find_files(root, is_candidate), root); }

std::vector<DicomSeries> find_ct_series(const fs::path& root) { return scan_dicom_tree(root).ct; }

std::vector<DicomSlice> order_slices(std::vector<DicomSlice> slices, std::vector<DicomSlice>* dropped) {
  std::sort(slices.begin(), slices.end(), [](const DicomSlice& a, const DicomSlice& b) {
    return std::tie(a.position[2], a.instance_number, a.file) < std::tie(b.position[2], b.instance_number, b.file);
  });
  std::vector<DicomSlice> kept;
  for (auto& s : slices) {
    if (!kept.empty() && kept.back().z() == s.z()) {  // exact, as pylidc compares the parsed floats
      if (dropped) dropped->push_back(std::move(s));
      continue;
    }
    kept.push_back(std::move(s));
  }
  return kept;
}

double checked_slice_step(const std::vector<DicomSlice>& ordered, const fs::path& folder, const SliceStepCheck& check) {
  if (ordered.size() < 2) return 0;
  std::vector<double> steps;
  for (std::size_t k = 0; k + 1 < ordered.size(); ++k) steps.push_back(distance(ordered[k].position, ordered[k + 1].position));
  const double step = median(steps);
  for (std::size_t k = 0; k < steps.size(); ++k) {
    std::ostringstream why;
    if (steps[k] > check.gap_factor * step)
      why << "gap in the series: " << steps[k] << " mm between " << describe(ordered[k]) << " and "
          << describe(ordered[k + 1]) << ", the usual step is " << step << " mm (a slice file is missing?)";
    else if (std::abs(steps[k] - step) > check.relative_tolerance * step)
      why << "uneven slice step: " << steps[k] << " mm between " << describe(ordered[k]) << " and "
          << describe(ordered[k + 1]) << ", the usual step is " << step << " mm";
    if (!why.str().empty()) throw InputError(folder, why.str());
  }
  return step;
}

Volume read_ct_series(const DicomSeries& series, const SliceStepCheck& check) {
  if (!series.unreadable.empty()) throw InputError(series.unreadable.front().where, series.unreadable.front().reason);
  std::vector<DicomSlice> slices = series.slices;
  double thickness = series.slice_thickness;
  if (slices.empty() && !series.files.empty()) {  // a series built by hand: scan its files' headers
    for (auto& s : group_series(series.files, series.folder).ct) {
      if (!s.unreadable.empty()) throw InputError(s.unreadable.front().where, s.unreadable.front().reason);
      if (series.series_uid.empty() || s.series_uid == series.series_uid) slices = s.slices, thickness = s.slice_thickness;
    }
  }
  if (slices.empty()) throw InputError(series.folder, "no CT slice in the series");
  const double step = checked_slice_step(slices, series.folder, check);

  Volume v;
  PlaneGeometry plane;
  std::size_t plane_voxels = 0;
  quiet_gdcm();
  SliceReader reader;
  for (std::size_t k = 0; k < slices.size(); ++k) {
    reader.read(slices[k].file);
    const PlaneGeometry g = PlaneGeometry::of(reader.image());
    if (k == 0) {
      plane = g;
      plane_voxels = static_cast<std::size_t>(g.size[0]) * g.size[1];
      v.size = {g.size[0], g.size[1], static_cast<int>(slices.size())};
      v.voxels.resize(plane_voxels * slices.size());
      unit_bytes_read_by_this_thread() += v.voxels.size() * sizeof(float);
    } else if (!g.matches(plane)) {
      throw InputError(slices[k].file, "size, pixel spacing or orientation differs from " + slices[0].file.filename().string());
    }
    reader.to_hu(slices[k].file, v.voxels.data() + k * plane_voxels, plane_voxels);
  }
  set_stack_geometry(v, plane, slices, step, thickness);
  return v;
}

}  // namespace mmb
