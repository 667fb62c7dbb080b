// common/pipeline/preprocess: the resize kernel per size from the manifest, and
// --set preprocess.resize_kernel=NAME overriding every size.
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include "common/manifest/manifest.h"
#include "common/pipeline/preprocess.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

Manifest toy(const std::string& preprocess) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-kernels-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "toymnist.toml") << R"(
[dataset]
flag = "toymnist"
python_class = "ToyMNIST"
task = "multi-class"
license = "CC BY 4.0"
dim = 2
n_channels = 1
sizes = [28, 64, 128]
labels = ["a", "b"]
n_samples = { train = 7, val = 1, test = 2 }
[preprocess]
)" << preprocess << "\n";
  return load_manifest(dir / "toymnist.toml");
}

Image noise(int w, int h) {
  Image img(w, h, 1, 1);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>((i * 7919) % 251);
  return img;
}

}  // namespace

TEST(PreprocessKernels, BySizeTableAndTheStructDefault) {
  const auto p = preprocess_params(toy(R"(resize_kernel_by_size = { 28 = "pil-bilinear", 64 = "area" })"));
  EXPECT_EQ(p.kernel_for(28), ResizeKernel::PilBilinear);
  EXPECT_EQ(p.kernel_for(64), ResizeKernel::Area);
  EXPECT_EQ(p.kernel_for(128), PreprocessParams{}.kernel);  // not named: the struct's default
}

TEST(PreprocessKernels, SetResizeKernelOverridesEverySize) {
  auto m = toy(R"(resize_kernel_by_size = { 28 = "pil-bilinear", 64 = "area" })");
  m.apply_override("preprocess.resize_kernel=pil-lanczos");
  const auto p = preprocess_params(m);
  for (int s : {28, 64, 128}) EXPECT_EQ(p.kernel_for(s), ResizeKernel::PilLanczos) << s;
}

TEST(PreprocessKernels, EachSizeIsResizedWithItsKernelInTheCallersOrder) {
  const auto p = preprocess_params(toy(R"(resize_kernel_by_size = { 28 = "pil-bilinear", 64 = "spline" })"));
  const Image img = noise(100, 90);
  const auto out = preprocess(img, p, {64, 28, 100});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].pixels, resize(img, 64, 64, 1, ResizeKernel::Spline).pixels);
  EXPECT_EQ(out[1].pixels, resize(img, 28, 28, 1, ResizeKernel::PilBilinear).pixels);
  EXPECT_EQ(out[2].width, 100);
  EXPECT_NE(out[1].pixels, resize(img, 28, 28, 1, ResizeKernel::Spline).pixels);
}

TEST(PreprocessKernels, BadTablesNameTheKey) {
  for (const char* bad : {R"(resize_kernel_by_size = { 28 = "bicubic" })", R"(resize_kernel_by_size = { big = "area" })",
                          R"(resize_kernel_by_size = { 28 = 3 })", R"(resize_kernel_by_size = "area")"}) {
    try {
      preprocess_params(toy(bad));
      ADD_FAILURE() << bad;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("resize_kernel_by_size"), std::string::npos) << e.what();
    }
  }
}
