#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/core/error.h"
#include "common/io/csv.h"
#include "common/io/files.h"
#include "common/io/image_file.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("mmb-io-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace

TEST(Csv, SplitsQuotedFieldsAndKeepsBackslashes) {
  EXPECT_EQ(split_csv_line(R"(1,1_l1,\regular-fundus-training\1\1_l1.jpg,0,,)"),
            (std::vector<std::string>{"1", "1_l1", R"(\regular-fundus-training\1\1_l1.jpg)", "0", "", ""}));
  EXPECT_EQ(split_csv_line(R"(a,"b, c",d)"), (std::vector<std::string>{"a", "b, c", "d"}));
  EXPECT_THROW(split_csv_line(R"(a,"b)"), std::invalid_argument);
}

TEST(Files, ReadLinesHandlesCrlfBomAndNoFinalNewline) {
  TempDir t;
  write(t.path / "a.txt", "\xEF\xBB\xBFone\r\ntwo\r\nthree");
  EXPECT_EQ(read_lines(t.path / "a.txt"), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_THROW(read_lines(t.path / "missing.txt"), InputError);
}

TEST(Files, FindsFilesAtAnyDepthAndSkipsJunk) {
  TempDir t;
  write(t.path / "a/b/c/x.PNG", "1");
  write(t.path / "y.png", "1");
  write(t.path / "__MACOSX/a/b/x.png", "1");
  write(t.path / "a/._x.png", "1");
  write(t.path / ".hidden/z.png", "1");
  write(t.path / "notes.txt", "1");
  auto found = find_files_with_extension(t.path, {".png"});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], t.path / "a/b/c/x.PNG");
  EXPECT_EQ(found[1], t.path / "y.png");
  EXPECT_EQ(find_file_named(t.path, "x.PNG"), t.path / "a/b/c/x.PNG");
  EXPECT_FALSE(find_file_named(t.path, "nope"));
}

TEST(ImageFile, DecodesPngAndReportsTruncation) {
  TempDir t;
  cv::Mat bgr(4, 5, CV_8UC3, cv::Scalar(10, 20, 30));  // B, G, R
  cv::imwrite((t.path / "a.png").string(), bgr);
  Image img = read_image_file(t.path / "a.png");
  EXPECT_EQ(img.width, 5);
  EXPECT_EQ(img.height, 4);
  ASSERT_EQ(img.channels, 3);
  EXPECT_EQ(img.at(0, 0, 0, 0), 30);  // RGB order
  EXPECT_EQ(probe_image_file(t.path / "a.png"), "");

  const auto size = fs::file_size(t.path / "a.png");
  fs::resize_file(t.path / "a.png", size / 2);
  EXPECT_EQ(probe_image_file(t.path / "a.png"), "truncated PNG (no IEND chunk)");
  try {
    read_image_file(t.path / "a.png");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), t.path / "a.png");
    EXPECT_NE(std::string(e.what()).find("a.png: truncated PNG"), std::string::npos);
  }
}

TEST(ImageFile, TruncatedJpegIsAnErrorNotAGreyPaddedImage) {
  TempDir t;
  cv::Mat gray(64, 64, CV_8UC1, cv::Scalar(77));
  cv::imwrite((t.path / "a.jpg").string(), gray);
  EXPECT_EQ(read_image_file(t.path / "a.jpg").channels, 1);
  fs::resize_file(t.path / "a.jpg", fs::file_size(t.path / "a.jpg") - 10);
  EXPECT_THROW(read_image_file(t.path / "a.jpg"), InputError);
}

TEST(ImageFile, SixteenBitIsScaledToEightAndGarbageIsRejected) {
  TempDir t;
  cv::Mat deep(2, 2, CV_16UC1, cv::Scalar(65535));
  cv::imwrite((t.path / "d.png").string(), deep);
  EXPECT_EQ(read_image_file(t.path / "d.png").at(1, 1), 255);
  write(t.path / "junk.png", "hello");
  EXPECT_EQ(probe_image_file(t.path / "junk.png"), "not a PNG, JPEG, TIFF or BMP file");
  EXPECT_EQ(probe_image_file(t.path / "none.png"), "file is missing");
}

#include "common/core/decoder_warnings.h"

namespace {

// A noisy picture, so the JPEG's entropy-coded data is long and varied.
cv::Mat noise_picture(int type) {
  cv::Mat m(96, 128, type);
  cv::RNG rng(13);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(m, m, cv::Size(5, 5), 0);
  return m;
}

std::string encode(const cv::Mat& m, const std::string& ext) {
  std::vector<unsigned char> bytes;
  cv::imencode(ext, m, bytes);
  return {bytes.begin(), bytes.end()};
}

}  // namespace

TEST(ImageFile, JpegDecodedByLibjpegEqualsOpenCvsDecode) {
  TempDir t;
  for (int type : {CV_8UC1, CV_8UC3}) {
    const std::string jpeg = encode(noise_picture(type), ".jpg");
    write(t.path / "a.jpg", jpeg);
    const Image img = read_image_file(t.path / "a.jpg");
    cv::Mat expected = cv::imread((t.path / "a.jpg").string(), cv::IMREAD_UNCHANGED);
    if (type == CV_8UC3) cv::cvtColor(expected, expected, cv::COLOR_BGR2RGB);
    ASSERT_EQ(img.channels, expected.channels());
    ASSERT_EQ(img.pixels.size(), expected.total() * expected.channels());
    EXPECT_TRUE(std::equal(img.pixels.begin(), img.pixels.end(), expected.data));
    EXPECT_TRUE(decoder_warnings_of_this_thread().empty());
  }
}

// Issue 13: a JPEG with 16 bytes flipped mid-file decoded without a word; libjpeg
// warns ("Corrupt JPEG data: ...") and goes on, and the warning is now kept.
TEST(ImageFile, JpegWithSixteenFlippedBytesDecodesAndKeepsLibjpegsWarning) {
  TempDir t;
  std::string jpeg = encode(noise_picture(CV_8UC3), ".jpg");
  for (std::size_t i = jpeg.size() / 2; i < jpeg.size() / 2 + 16; ++i) jpeg[i] = static_cast<char>(~jpeg[i]);
  write(t.path / "flipped.jpg", jpeg);
  decoder_warnings_of_this_thread().clear();
  const Image img = read_image_file(t.path / "flipped.jpg");
  EXPECT_EQ(img.width, 128);
  ASSERT_FALSE(decoder_warnings_of_this_thread().empty());
  EXPECT_EQ(decoder_warnings_of_this_thread().front().rfind("libjpeg: Corrupt JPEG data", 0), 0u)
      << decoder_warnings_of_this_thread().front();
}

// libtiff warns about an IFD whose tags are out of order or unknown, and reads on.
TEST(ImageFile, TiffWarningsAreKept) {
  TempDir t;
  std::string tiff = encode(noise_picture(CV_8UC1), ".tif");
  ASSERT_EQ(tiff.substr(0, 2), "II");
  const auto u32 = [&](std::size_t o) { return std::uint32_t(std::uint8_t(tiff[o])) | std::uint8_t(tiff[o + 1]) << 8 |
                                               std::uint8_t(tiff[o + 2]) << 16 | std::uint32_t(std::uint8_t(tiff[o + 3])) << 24; };
  const std::size_t ifd = u32(4);
  const std::size_t n = std::uint8_t(tiff[ifd]) | std::uint8_t(tiff[ifd + 1]) << 8;
  bool patched = false;
  for (std::size_t e = ifd + 2; e < ifd + 2 + 12 * n; e += 12)
    if (std::uint8_t(tiff[e]) == 0x1C && tiff[e + 1] == 0x01) {  // PlanarConfiguration (284): contiguous is the default
      tiff[e] = '\xE8', tiff[e + 1] = '\xFD';                      // now tag 65000, unknown and out of order
      patched = true;
    }
  ASSERT_TRUE(patched);
  write(t.path / "a.tif", tiff);
  decoder_warnings_of_this_thread().clear();
  EXPECT_EQ(read_image_file(t.path / "a.tif").width, 128);
  ASSERT_FALSE(decoder_warnings_of_this_thread().empty());
  EXPECT_EQ(decoder_warnings_of_this_thread().front().rfind("libtiff: ", 0), 0u);
}

#include "common/io/class_folders.h"

TEST(ClassFolders, NearestClassFolderAtAnyDepthDecides) {
  TempDir t;
  write(t.path / "NCT-CRC-HE-100K/NCT-CRC-HE-100K/ADI/ADI-AAA.tif", "1");
  write(t.path / "CRC-VAL-HE-7K/tum/TUM-1.tif", "1");
  write(t.path / "ADI/MUC/odd.tif", "1");             // nearest folder wins: MUC
  write(t.path / "other/x.tif", "1");                 // no class folder: ignored
  write(t.path / "__MACOSX/ADI/._ADI-AAA.tif", "1");  // junk
  write(t.path / "ADI/readme.txt", "1");              // wrong extension
  auto files = find_files_in_class_folders(t.path, {"ADI", "MUC", "TUM"}, {".tif"});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path.filename(), "odd.tif");
  EXPECT_EQ(files[0].label, 1);
  EXPECT_EQ(files[1].label, 2);
  EXPECT_EQ(files[1].folders, (std::vector<std::string>{"CRC-VAL-HE-7K", "tum"}));
  EXPECT_EQ(files[2].label, 0);
}

TEST(ClassFolders, SampleIdIsTheFileNameOrTheStemAndAnythingElseNamesTheManifest) {
  EXPECT_EQ(sample_id("a/ADI/ADI-AAA.tif", "file_name", "m.toml"), "ADI-AAA.tif");
  EXPECT_EQ(sample_id("a/ADI/ADI-AAA.tif", "stem", "m.toml"), "ADI-AAA");
  try {
    sample_id("a/ADI/ADI-AAA.tif", "path", "manifests/pathmnist.toml");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "manifests/pathmnist.toml: source.sample_id must be \"file_name\" or \"stem\", got 'path'");
  }
}

TEST(ClassFolders, FolderSampleSetsIdLabelSplitPathAndOptionalSubject) {
  const Sample s = folder_sample("x.jpg", 7, Split::Test, "d/x.jpg");
  EXPECT_EQ(s.id, "x.jpg");
  EXPECT_EQ(s.label, (std::vector<std::uint8_t>{7}));
  EXPECT_EQ(s.split, Split::Test);
  EXPECT_EQ(s.path, fs::path("d/x.jpg"));
  EXPECT_EQ(s.subject, "");
  EXPECT_EQ(s.unit, "");
  EXPECT_EQ(folder_sample("y.jpeg", 0, Split::Unassigned, "y.jpeg", "person1").subject, "person1");
}

TEST(ClassFolders, DropDuplicateIdsKeepsTheFirstAndNotesEachCopy) {
  Enumeration e;
  e.samples = {folder_sample("a.jpg", 0, Split::Unassigned, "/src/one/A/a.jpg"),
               folder_sample("b.jpg", 1, Split::Unassigned, "/src/one/B/b.jpg"),
               folder_sample("a.jpg", 0, Split::Unassigned, "/src/two/A/a.jpg")};
  drop_duplicate_ids("/src", e);
  ASSERT_EQ(e.samples.size(), 2u);
  EXPECT_EQ(e.samples[0].path, fs::path("/src/one/A/a.jpg"));
  EXPECT_EQ(e.samples[1].id, "b.jpg");
  EXPECT_EQ(e.notes, (std::vector<std::string>{"duplicate a.jpg: using one/A/a.jpg, not two/A/a.jpg"}));
}

TEST(Csv, HeaderTableFindsColumnsByNameAndReportsBadRowsWithFileAndLine) {
  TempDir t;
  write(t.path / "meta.csv", "\n lesion_id,Image_ID,dx\r\nHAM_1,ISIC_1,nv\n\nHAM_2,\"ISIC_2\",mel,extra\nHAM_3,ISIC_3,bkl\n");
  std::vector<Problem> problems;
  const HeaderTable table(t.path / "meta.csv", problems);
  EXPECT_FALSE(table.tab_separated());
  EXPECT_EQ(table.header(), (std::vector<std::string>{"lesion_id", "Image_ID", "dx"}));
  EXPECT_EQ(table.column("image_id"), 1u);  // case-insensitive
  EXPECT_FALSE(table.find_column("dataset"));
  ASSERT_EQ(table.rows().size(), 2u);
  EXPECT_EQ(table.rows()[0].where, "meta.csv:3");
  EXPECT_EQ(table.rows()[1].fields, (std::vector<std::string>{"HAM_3", "ISIC_3", "bkl"}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message(), "meta.csv:5: expected 3 fields as in the header, got 4");
  try {
    table.column("age");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), t.path / "meta.csv");
    EXPECT_EQ(e.reason(), "no column 'age' in the header");
  }
}

TEST(Csv, HeaderTableDetectsTabsAndStripsQuotes) {
  TempDir t;
  write(t.path / "meta.tab", "\"lesion_id\"\t\"image_id\"\t\"age\"\n\"HAM_1\"\t\"ISIC_1\"\t\n\"HAM_2\"\t\"a, b\"\t45\n");
  std::vector<Problem> problems;
  const HeaderTable table(t.path / "meta.tab", problems);
  EXPECT_TRUE(table.tab_separated());
  EXPECT_EQ(table.header(), (std::vector<std::string>{"lesion_id", "image_id", "age"}));
  ASSERT_EQ(table.rows().size(), 2u);
  EXPECT_EQ(table.rows()[0].fields, (std::vector<std::string>{"HAM_1", "ISIC_1", ""}));
  EXPECT_EQ(table.rows()[1].fields, (std::vector<std::string>{"HAM_2", "a, b", "45"}));
  EXPECT_TRUE(problems.empty());
}

TEST(Csv, HeaderTableRaggedRowsMustReachTheRequiredColumns) {
  TempDir t;
  write(t.path / "r.csv", "id,level,quality,note\na,1\nb\nc,2,3,4,5\nd,\"x\n");
  std::vector<Problem> problems;
  const HeaderTable table(t.path / "r.csv", problems, {.required = {"id", "level"}, .ragged = true});
  ASSERT_EQ(table.rows().size(), 1u);
  EXPECT_EQ(table.rows()[0].fields, (std::vector<std::string>{"a", "1"}));
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].message(), "r.csv:3: expected 4 fields, got 1");
  EXPECT_EQ(problems[1].message(), "r.csv:4: expected 4 fields, got 5");
  EXPECT_EQ(problems[2].where, "r.csv:5");
  EXPECT_THROW(HeaderTable(t.path / "r.csv", problems, {.required = {"grade"}}), InputError);
  write(t.path / "blank.csv", "\n \n");
  EXPECT_THROW(HeaderTable(t.path / "blank.csv", problems), InputError);
}
