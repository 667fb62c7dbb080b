// The small shared pieces: split names, image indexing, file-descriptor I/O,
// progress output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/core/fd_io.h"
#include "common/core/image.h"
#include "common/core/sample.h"
#include "common/pipeline/progress.h"

using namespace mmb;

TEST(SplitNames, ParseAcceptsTheSpellingsSourcesUse) {
  EXPECT_EQ(parse_split("train"), Split::Train);
  EXPECT_EQ(parse_split("Validation"), Split::Val);
  EXPECT_EQ(parse_split("valid"), Split::Val);
  EXPECT_EQ(parse_split("TEST"), Split::Test);
  EXPECT_THROW(parse_split("holdout"), std::invalid_argument);
  EXPECT_STREQ(split_name(Split::Val), "val");
  EXPECT_STREQ(split_name(Split::Unassigned), "unassigned");
}

TEST(Image, IndexesChannelsInterleavedXFastest) {
  Image img(3, 2, 2, 3);
  img.at(2, 1, 1, 2) = 7;
  EXPECT_EQ(img.pixels[((1 * 2 + 1) * 3 + 2) * 3 + 2], 7);
  EXPECT_EQ(img.ptr(0, 1, 1) - img.pixels.data(), (1 * 2 + 1) * 3 * 3);
  EXPECT_EQ(img.byte_size(), 36u);
}

TEST(Progress, ReportsCountRateAndTotalTimeWhenFinished) {
  testing::internal::CaptureStderr();
  Progress p("toymnist", 10, true);
  p.update(3);
  p.finish(10);
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("toymnist: 10/10 samples (100.0%)"), std::string::npos) << out;
  EXPECT_NE(out.find("/s, took"), std::string::npos) << out;
}

TEST(Progress, PrintsNothingWhenDisabled) {
  testing::internal::CaptureStderr();
  Progress p("toymnist", 10, false);
  p.finish(10);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(FdIo, WholeBuffersAtOffsetsAndEndOfFileIsNotAnError) {
  char name[] = "/tmp/mmb-fdio-XXXXXX";
  const int fd = ::mkstemp(name);
  ASSERT_GE(fd, 0);
  ::unlink(name);
  const std::string head = "0123456789", patch = "abc";
  EXPECT_TRUE(write_fully(fd, head.data(), head.size()));
  EXPECT_TRUE(pwrite_fully(fd, patch.data(), patch.size(), 4));
  std::vector<char> back(head.size());
  EXPECT_TRUE(pread_fully(fd, back.data(), back.size(), 0));
  EXPECT_EQ(std::string(back.begin(), back.end()), "0123abc789");
  EXPECT_FALSE(pread_fully(fd, back.data(), 4, 8));  // only 2 bytes left
  EXPECT_EQ(errno, 0);
  ::close(fd);
  EXPECT_FALSE(pwrite_fully(fd, patch.data(), patch.size(), 0));
  EXPECT_EQ(errno, EBADF);
  EXPECT_FALSE(pread_fully(fd, back.data(), 1, 0));
  EXPECT_EQ(errno, EBADF);
}

#include "common/core/limits.h"

TEST(InputLimits, NameEqualsValueSetsOneLimitAndRefusesTyposAndBadValues) {
  mmb::InputLimits limits;
  mmb::apply_input_limit(limits, "image_pixels=2^30");
  mmb::apply_input_limit(limits, "montage_bytes=1000");
  EXPECT_EQ(limits.image_pixels, std::uint64_t{1} << 30);
  EXPECT_EQ(limits.montage_bytes, 1000u);
  EXPECT_EQ(limits.nifti_voxel_bytes, mmb::InputLimits{}.nifti_voxel_bytes);
  for (const char* bad : {"image_pixel=5", "image_pixels=0", "image_pixels=-1", "image_pixels=1e9", "image_pixels=2^64",
                          "image_pixels", "image_pixels=99999999999999999999"})
    EXPECT_THROW(mmb::apply_input_limit(limits, bad), std::invalid_argument) << bad;
}
