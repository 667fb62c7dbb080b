// common/pipeline/compare: the INFO MD5 table against medmnist's INFO
// (tests/data/medmnist-info.json, copied from medmnist/info.py) and md5_file
// against a known digest.
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/pipeline/compare.h"
#include "common/pipeline/sidecar.h"

namespace fs = std::filesystem;

TEST(Compare, OfficialMd5TableEqualsInfo) {
  std::ifstream in(fs::path(MMB_SOURCE_DIR) / "tests/data/medmnist-info.json");
  const auto info = nlohmann::json::parse(in);
  std::size_t files = 0;
  for (const auto& [flag, entry] : info.items())
    for (const auto& [size, file] : entry["files"].items()) {
      EXPECT_EQ(mmb::official_md5(flag, std::stoi(size)), file["md5"].get<std::string>()) << flag << " " << size;
      ++files;
    }
  EXPECT_EQ(files, 60u);  // 12 2D flags x 4 sizes + 6 3D flags x 2 sizes
  EXPECT_EQ(mmb::official_md5("chestmnist", 32), "");
  EXPECT_EQ(mmb::official_md5("mnist", 28), "");
}

TEST(Compare, Md5OfAFile) {
  const fs::path file = fs::temp_directory_path() / ("mmb-md5-" + std::to_string(::getpid()));
  std::ofstream(file) << "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(mmb::md5_file(file), "9e107d9d372bb6826bd81d3542a419d6");  // RFC 1321's well-known example
  fs::remove(file);
  EXPECT_THROW(mmb::md5_file(file), std::runtime_error);
}
