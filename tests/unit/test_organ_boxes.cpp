// converters/organ_boxes: Xu et al.'s real annotation zips (tests/data/xu2019_lits) read and
// parsed without a problem; bad lines named by file and line; a zip member whose header claims
// a huge size refused by name before anything is allocated.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zip.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "converters/organ_boxes.h"

namespace fs = std::filesystem;

namespace mmb::organ {
namespace {

const std::vector<std::string> kXu = {"liver", "kidney-r", "kidney-l", "femur-r", "femur-l", "bladder",
                                      "heart", "lung-r",   "lung-l",   "spleen",  "pancreas"};
const std::string kData = std::string(MMB_SOURCE_DIR) + "/tests/data/xu2019_lits/";

TEST(OrganBoxes, RealZipsParseWithoutProblems) {
  for (const auto& [zip, files, boxes] : {std::tuple{"annotations_of_training_set.zip", 131u, 1133u},
                                          std::tuple{"annotations_of_testing_set.zip", 70u, 618u}}) {
    std::map<std::string, BoxFile> found;
    read_zipped_boxes(kData + zip, zip, found);
    EXPECT_EQ(found.size(), files) << zip;
    std::size_t n = 0;
    std::vector<Problem> problems;
    for (const auto& [name, file] : found) n += parse_boxes(file, kXu, {512, 512, 1024}, problems).size();
    EXPECT_EQ(n, boxes) << zip;
    EXPECT_TRUE(problems.empty()) << problems.front().message();
  }
}

TEST(OrganBoxes, BadLinesNamedByFileAndLine) {
  const BoxFile file{"x/segmentation-3.txt", lines_of("liver 1 1 10 1 10 1 10\r\nliver 1 1 2 1 2 1 2\r\n\r\n"
                                                      "heart 2 1 2 1 2 1 2\nspleen 10 1 2 1 2 1 99\nlung-l 9 1 2 -1 2 1 2\n"
                                                      "pancreas 11 1 2 3")};
  std::vector<Problem> problems;
  const auto boxes = parse_boxes(file, kXu, {20, 20, 20}, problems);
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].organ, "liver");
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_EQ(problems[0].where, "x/segmentation-3.txt:2");  // liver twice
  EXPECT_EQ(problems[1].where, "x/segmentation-3.txt:4");  // heart is id 7
  EXPECT_NE(problems[2].reason.find("does not fit"), std::string::npos);
  EXPECT_NE(problems[3].reason.find("not a voxel index"), std::string::npos);
  EXPECT_NE(problems[4].reason.find("got 5 fields"), std::string::npos);
  EXPECT_EQ(info_name("kidney-r"), "kidney-right");
  EXPECT_EQ(box_volume_name("Test-Segmentation-007.txt"), "test-volume-7");
}

// A one-member stored zip whose local and central headers both claim 0xF0000000 bytes.
TEST(OrganBoxes, HugeMemberSizeRefusedBeforeAllocating) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-organ-boxes-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path path = dir / "annotations_of_training_set.zip";
  {
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    ASSERT_NE(z, nullptr);
    static const char text[] = "liver 1 1 2 1 2 1 2\n";
    zip_source_t* src = zip_source_buffer(z, text, sizeof text - 1, 0);
    const zip_int64_t i = zip_file_add(z, "segmentation-1.txt", src, 0);
    ASSERT_GE(i, 0);
    zip_set_file_compression(z, static_cast<zip_uint64_t>(i), ZIP_CM_STORE, 0);
    ASSERT_EQ(zip_close(z), 0);
  }
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::uint32_t huge = 0xF0000000u;
  for (const auto& [sig, offset] : {std::pair{std::string("PK\3\4"), 22}, std::pair{std::string("PK\1\2"), 24}}) {
    const auto at = bytes.find(sig);
    ASSERT_NE(at, std::string::npos);
    std::memcpy(bytes.data() + at + offset, &huge, 4);  // little-endian, as zip
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  std::map<std::string, BoxFile> found;
  std::optional<InputError> error;
  try {
    read_zipped_boxes(path, "annotations_of_training_set.zip", found);
  } catch (const InputError& e) {
    error = e;
  }
  fs::remove_all(dir);
  ASSERT_TRUE(error) << "accepted a member claiming 4 GB";
  EXPECT_EQ(error->path(), path);
  EXPECT_NE(error->reason().find("segmentation-1.txt claims 4026531840 bytes"), std::string::npos) << error->what();
}

}  // namespace
}  // namespace mmb::organ
