#include <gtest/gtest.h>

#include "common/ops/geometry.h"
#include "common/ops/window.h"

using namespace mmb;

namespace {

Image numbered(int w, int h, int c = 1) {
  Image img(w, h, 1, c);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(i);
  return img;
}

}  // namespace

TEST(CenterCrop, OffsetsAreTorchvisionsBankersRounding) {
  Image img = numbered(7, 4);
  Image out = center_crop(img, 4, 3);  // x0 = round(3/2) = round(1.5) = 2, y0 = round(0.5) = 0
  EXPECT_EQ(out.width, 4);
  EXPECT_EQ(out.height, 3);
  EXPECT_EQ(out.at(0, 0), img.at(2, 0));
  EXPECT_EQ(out.at(3, 2), img.at(5, 2));
  // int(round(d / 2.0)) in Python for d = 0..9: 0 0 1 2 2 2 3 4 4 4.
  const int expected[] = {0, 0, 1, 2, 2, 2, 3, 4, 4, 4};
  for (int d = 0; d < 10; ++d) EXPECT_EQ(center_crop_offset(100 + d, 100), expected[d]) << d;
}

TEST(CenterCrop, SquareUsesTheShortEdge) {
  Image img = numbered(363, 360, 3);
  Image out = center_crop_square(img);
  EXPECT_EQ(out.width, 360);
  EXPECT_EQ(out.height, 360);
  EXPECT_EQ(out.at(0, 0, 0, 2), img.at(2, 0, 0, 2));  // round(3 / 2) = 2
}

TEST(CenterCrop, RefusesACropLargerThanTheImage) {
  EXPECT_THROW(center_crop(numbered(10, 10), 11, 5), std::invalid_argument);
}

TEST(ToChannels, RgbToGrayMatchesPilConvertL) {
  Image rgb(3, 1, 1, 3);
  rgb.pixels = {255, 0, 0, 0, 255, 0, 10, 200, 30};
  Image gray = to_channels(rgb, 1);
  // PIL: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
  EXPECT_EQ(gray.pixels, (std::vector<std::uint8_t>{76, 150, 124}));
}

TEST(ToChannels, RgbaAndLaDropAlpha) {
  Image rgba(1, 1, 1, 4);
  rgba.pixels = {90, 90, 90, 0};
  EXPECT_EQ(to_channels(rgba, 1).pixels, std::vector<std::uint8_t>{90});
  Image la(1, 1, 1, 2);
  la.pixels = {77, 3};
  EXPECT_EQ(to_channels(la, 1).pixels, std::vector<std::uint8_t>{77});
  EXPECT_EQ(to_channels(la, 3).pixels, (std::vector<std::uint8_t>{77, 77, 77}));
}

TEST(ToChannels, GrayToRgbReplicates) {
  Image g(2, 1, 1, 1);
  g.pixels = {5, 250};
  EXPECT_EQ(to_channels(g, 3).pixels, (std::vector<std::uint8_t>{5, 5, 5, 250, 250, 250}));
}

TEST(MaxProjection, TakesTheBrightestSliceAtEachPixel) {
  Image v(2, 1, 3, 1);
  v.pixels = {1, 9, 7, 2, 3, 4};
  Image p = max_projection_z(v);
  EXPECT_EQ(p.depth, 1);
  EXPECT_EQ(p.pixels, (std::vector<std::uint8_t>{7, 9}));
}

TEST(HuWindow, MapsTheWindowOntoTheFullGrayRange) {
  HuWindow abdomen{50, 400};  // [-150, 250]
  EXPECT_EQ(hu_to_gray(-150, abdomen), 0);
  EXPECT_EQ(hu_to_gray(250, abdomen), 255);
  EXPECT_EQ(hu_to_gray(50, abdomen), 128);  // 127.5 rounds to even
  EXPECT_EQ(hu_to_gray(-1000, abdomen), 0);
  EXPECT_EQ(hu_to_gray(3000, abdomen), 255);
  EXPECT_EQ(hu_window({-150.f, 250.f}, abdomen), (std::vector<std::uint8_t>{0, 255}));
}
