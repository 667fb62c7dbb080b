// common/io/dicom_series: the header scan and the HU volume, on pydicom's real
// CT_small.dcm (HU checked against pydicom, computed here with /usr/bin/python3)
// and on the LIDC-shaped fixture (tools/fixtures/make_lidc_fixture.py): both
// TCIA naming schemes, a CR series, a duplicated z, int16 and uint16 pixels;
// then gaps, a missing, a truncated and an unparsable slice.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "common/io/dicom_series.h"

namespace mmb {
namespace {

namespace fs = std::filesystem;

std::string run_python(const std::string& code) {
  const std::string cmd = "/usr/bin/python3 -c \"" + code + "\"";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe.get())) out += buf;
  return out;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-dicom-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// ---- pydicom's CT_small.dcm --------------------------------------------------------------

class CtSmall : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    original_ = run_python("from pydicom.data import get_testdata_file; print(get_testdata_file('CT_small.dcm'))");
    original_.erase(original_.find_last_not_of("\n") + 1);
    dir_ = fresh_dir("ctsmall");
    fs::create_directories(dir_ / "series");
    fs::copy_file(original_, dir_ / "series" / "CT_small.dcm");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static inline std::string original_;
  static inline fs::path dir_;
};

TEST_F(CtSmall, IsFoundAsOneCtSeriesWithItsHeaderFields) {
  const auto series = find_ct_series(dir_);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].patient_id, "1CT1");
  EXPECT_EQ(series[0].series_uid, "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322");
  EXPECT_EQ(series[0].folder, dir_ / "series");
  ASSERT_EQ(series[0].slices.size(), 1u);
  EXPECT_EQ(series[0].slices[0].instance_number, 1);
  EXPECT_DOUBLE_EQ(series[0].slices[0].z(), -75.699997);
  EXPECT_DOUBLE_EQ(series[0].slice_thickness, 5.0);
}

TEST_F(CtSmall, HuEqualsStoredTimesSlopePlusInterceptAsPydicomComputesIt) {
  const Volume v = read_ct_series(find_ct_series(dir_).at(0));
  ASSERT_EQ(v.size, (std::array<int, 3>{128, 128, 1}));
  EXPECT_NEAR(v.spacing[0], 0.661468, 1e-6);
  EXPECT_NEAR(v.spacing[2], 5.0, 1e-9);  // one slice: SliceThickness
  EXPECT_NEAR(v.origin[0], -158.135803, 1e-5);
  EXPECT_NEAR(v.origin[2], -75.699997, 1e-5);
  // (row, column) pairs; pydicom's pixel_array is [row, column].
  const int probes[][2] = {{0, 0}, {64, 64}, {10, 100}, {127, 3}, {90, 45}};
  std::string code = "import pydicom; d = pydicom.dcmread('" + original_ + "'); a = d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept); print(";
  for (const auto& p : probes) code += "a[" + std::to_string(p[0]) + "," + std::to_string(p[1]) + "], ";
  code += "sep=' ')";
  std::istringstream expected(run_python(code));
  for (const auto& p : probes) {
    double hu = 0;
    expected >> hu;
    EXPECT_DOUBLE_EQ(v.at(p[1], p[0], 0), hu) << "row " << p[0] << " column " << p[1];
  }
  EXPECT_DOUBLE_EQ(v.at(0, 0, 0), 175 - 1024.0);  // stored 175 (pydicom), intercept -1024
}

TEST_F(CtSmall, ASeriesBuiltByHandFromItsFileListIsScannedAndRead) {
  DicomSeries by_hand;
  by_hand.folder = dir_ / "series";
  by_hand.files = {dir_ / "series" / "CT_small.dcm"};
  EXPECT_EQ(read_ct_series(by_hand).size[0], 128);
}

// ---- slice order and step checks -------------------------------------------------------

DicomSlice slice(const std::string& name, double z, int instance) { return {name, "uid-" + name, {0, 0, z}, instance}; }

TEST(SliceOrder, DuplicateZKeepsTheSmallerInstanceNumberThenSortsByZ) {
  std::vector<DicomSlice> dropped;
  const auto kept = order_slices({slice("c", 5.0, 3), slice("a", 0.0, 9), slice("b", 2.5, 7), slice("b2", 2.5, 2),
                                  slice("b3", 2.5, 12)},
                                 &dropped);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].file, "a");
  EXPECT_EQ(kept[1].file, "b2");
  EXPECT_EQ(kept[2].file, "c");
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_EQ(dropped[0].file, "b");
  EXPECT_EQ(dropped[1].file, "b3");
}

TEST(SliceStep, IsTheMedianDistanceBetweenPositions) {
  EXPECT_DOUBLE_EQ(checked_slice_step({slice("a", 0, 1), slice("b", 1.25, 2), slice("c", 2.5, 3)}, "f"), 1.25);
  EXPECT_DOUBLE_EQ(checked_slice_step({slice("a", 0, 1)}, "f"), 0.0);
}

TEST(SliceStep, AGapNamesTheFolderAndBothNeighbours) {
  try {
    checked_slice_step({slice("1-001.dcm", 0, 1), slice("1-002.dcm", 2.5, 2), slice("1-004.dcm", 7.5, 4),
                        slice("1-005.dcm", 10, 5)},
                       "LIDC-IDRI-0001/series");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), "LIDC-IDRI-0001/series");
    EXPECT_NE(e.reason().find("gap"), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find("1-002.dcm (z = 2.5)"), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find("1-004.dcm (z = 7.5)"), std::string::npos) << e.what();
  }
}

TEST(SliceStep, AnUnevenStepIsRefusedUnlessWithinTheTolerance) {
  const std::vector<DicomSlice> s = {slice("a", 0, 1), slice("b", 2.5, 2), slice("c", 5.0, 3), slice("d", 6.8, 4),
                                     slice("e", 9.3, 5)};
  EXPECT_THROW(checked_slice_step(s, "f"), InputError);  // 1.8 vs 2.5: 28 % off
  SliceStepCheck loose;
  loose.relative_tolerance = 0.3;
  EXPECT_DOUBLE_EQ(checked_slice_step(s, "f", loose), 2.5);
}

// ---- the LIDC-shaped fixture -------------------------------------------------------------

class LidcFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fresh_dir("lidc");
    const std::string code = "import sys, json; sys.path.insert(0, '" MMB_SOURCE_DIR
                             "/tools/fixtures'); import make_lidc_fixture as f; "
                             "json.dump(f.generate('" + (dir_ / "src").string() + "'), open('" +
                             (dir_ / "manifest.json").string() + "', 'w'))";
    ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + code + "\"").c_str()), 0);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static DicomSeries series_of(const std::string& patient) {
    for (auto& s : find_ct_series(dir_ / "src"))
      if (s.patient_id == patient && s.slices.size() > 8) return s;
    throw std::runtime_error("no series for " + patient);
  }
  static fs::path copy_series(const DicomSeries& s, const std::string& name) {
    const fs::path dir = dir_ / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& f : s.files) fs::copy_file(f, dir / f.filename());
    return dir;
  }
  static inline fs::path dir_;
};

TEST_F(LidcFixture, FindsTheCtSeriesOfBothNamingSchemesAndSkipsTheRadiograph) {
  const DicomTree tree = scan_dicom_tree(dir_ / "src");
  ASSERT_EQ(tree.ct.size(), 5u);  // 4 patients + patient 4's second series
  for (std::size_t i = 1; i < tree.ct.size(); ++i)
    EXPECT_LE(tree.ct[i - 1].patient_id, tree.ct[i].patient_id);
  EXPECT_NE(tree.ct[0].folder.string().find("3000567.000000-NA-"), std::string::npos);  // NBIA descriptive
  EXPECT_EQ(tree.ct[2].folder.filename().string(), tree.ct[2].series_uid);             // classic UID folders
  ASSERT_EQ(tree.skipped_series.size(), 1u);
  EXPECT_EQ(tree.skipped_series[0].rfind("CR ", 0), 0u) << tree.skipped_series[0];
  EXPECT_TRUE(tree.unreadable.empty());
}

TEST_F(LidcFixture, TheDuplicateZIsDroppedAndSlicesRunUpInZ) {
  const DicomSeries s = series_of("LIDC-IDRI-0001");
  ASSERT_EQ(s.duplicates.size(), 1u);
  EXPECT_EQ(s.duplicates[0].instance_number, 37);
  EXPECT_EQ(s.slices.size(), 36u);
  EXPECT_EQ(s.files.size(), 37u);
  for (std::size_t k = 1; k < s.slices.size(); ++k) EXPECT_DOUBLE_EQ(s.slices[k].z() - s.slices[k - 1].z(), 2.5);
  EXPECT_EQ(s.slices.front().instance_number, 36);  // instance 1 is the top slice
  EXPECT_DOUBLE_EQ(s.slice_thickness, 2.5);
}

TEST_F(LidcFixture, VolumeKeepsTheRealSliceNotTheBrightDuplicate) {
  const DicomSeries s = series_of("LIDC-IDRI-0001");
  const Volume v = read_ct_series(s);
  ASSERT_EQ(v.size, (std::array<int, 3>{96, 96, 36}));
  const int k = 9;  // make_lidc_fixture.DUPLICATE_K
  double sum = 0;
  for (int j = 40; j < 56; ++j)
    for (int i = 40; i < 56; ++i) sum += v.at(i, j, k);
  EXPECT_NEAR(sum / 256.0, -850.0, 60.0);  // lung, not the duplicate's +1000
  EXPECT_DOUBLE_EQ(v.spacing[2], 2.5);
  for (int kk : {0, 17, 35}) {  // slice k sits at its ImagePositionPatient
    const auto p = v.to_physical({3.0, 5.0, static_cast<double>(kk)});
    EXPECT_NEAR(p[2], s.slices[kk].z(), 1e-9);
    EXPECT_NEAR(p[0], s.slices[kk].position[0] + 3 * v.spacing[0], 1e-9);
    EXPECT_NEAR(p[1], s.slices[kk].position[1] + 5 * v.spacing[1], 1e-9);
  }
}

TEST_F(LidcFixture, UnsignedPixelsWithInterceptBecomeTheSameHu) {
  const Volume v = read_ct_series(series_of("LIDC-IDRI-0002"));  // uint16, stored = HU + 1024
  EXPECT_NEAR(v.at(48, 48, 2), -850.0, 60.0);
  EXPECT_NEAR(v.at(0, 0, 2), -1000.0, 60.0);  // air outside the body
}

TEST_F(LidcFixture, ASliceDeletedAfterTheScanIsNamedAndAGapOnRescan) {
  const fs::path dir = copy_series(series_of("LIDC-IDRI-0003"), "deleted");
  const DicomSeries scanned = find_ct_series(dir).at(0);
  const fs::path victim = scanned.slices[10].file;
  fs::remove(victim);
  try {
    read_ct_series(scanned);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), victim);
    EXPECT_EQ(e.reason(), "slice file is missing");
  }
  try {
    read_ct_series(find_ct_series(dir).at(0));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), dir);
    EXPECT_NE(e.reason().find("gap in the series"), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find(scanned.slices[9].file.filename().string()), std::string::npos) << e.what();
  }
}

TEST_F(LidcFixture, ATruncatedSliceIsNamedNotReadAsGarbage) {
  const fs::path dir = copy_series(series_of("LIDC-IDRI-0002"), "truncated");
  const DicomSeries scanned = find_ct_series(dir).at(0);
  const fs::path victim = scanned.slices[20].file;
  fs::resize_file(victim, fs::file_size(victim) / 2);
  try {
    read_ct_series(find_ct_series(dir).at(0));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), victim);
    EXPECT_NE(e.reason().find("truncated DICOM file"), std::string::npos) << e.what();
  }
}

TEST_F(LidcFixture, AnUnparsableDcmInTheSeriesFolderIsNamed) {
  const fs::path dir = copy_series(series_of("LIDC-IDRI-0004"), "garbage");
  std::ofstream(dir / "1-999.dcm") << "this is not DICOM";
  const DicomTree tree = scan_dicom_tree(dir);
  ASSERT_EQ(tree.ct.size(), 1u);
  ASSERT_EQ(tree.ct[0].unreadable.size(), 1u);
  try {
    read_ct_series(tree.ct[0]);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), dir / "1-999.dcm");
    EXPECT_EQ(e.reason(), "not a DICOM file GDCM can parse");
  }
}

}  // namespace
}  // namespace mmb
