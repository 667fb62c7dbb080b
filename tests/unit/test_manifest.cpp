#include <gtest/gtest.h>

#include <fstream>

#include "common/manifest/manifest.h"
#include "common/pipeline/preprocess.h"
#include "common/pipeline/settings.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

fs::path write_manifest(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-manifest-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / name) << text;
  return dir / name;
}

const char* kValid = R"(
[dataset]
flag = "toymnist"
python_class = "ToyMNIST"
task = "multi-label, binary-class"
license = "CC BY 4.0"
dim = 2
n_channels = 1
sizes = [28, 64]
labels = ["a", "b", "c"]
n_samples = { train = 7, val = 1, test = 2 }
[preprocess]
crop = "center"
crop_size = [200, 100]
[split]
ratios = [7, 1, 2]
)";

}  // namespace

TEST(Manifest, ReadsTheOfficialFacts) {
  auto m = load_manifest(write_manifest("toymnist.toml", kValid));
  EXPECT_EQ(m.flag, "toymnist");
  EXPECT_EQ(m.sizes, (std::vector<int>{28, 64}));
  EXPECT_EQ(m.labels.size(), 3u);
  EXPECT_EQ(m.label_width, 3u);  // multi-label: one column per label
  EXPECT_EQ(m.official_counts, (std::array<std::size_t, 3>{7, 1, 2}));
  EXPECT_EQ(m.get_numbers("split.ratios", {}), (std::vector<double>{7, 1, 2}));
  EXPECT_EQ(m.get_string("source.nothing", "fallback"), "fallback");
}

TEST(Manifest, OverridesParseTomlValuesOrKeepBareWords) {
  auto m = load_manifest(write_manifest("toymnist.toml", kValid));
  m.apply_override("preprocess.resize_kernel=area");
  m.apply_override("split.ratios=[9, 1, 0]");
  m.apply_override("split.seed=3");  // not in the file, but a setting the tool reads
  EXPECT_EQ(m.get_string("preprocess.resize_kernel", ""), "area");
  EXPECT_EQ(m.get_numbers("split.ratios", {}), (std::vector<double>{9, 1, 0}));
  EXPECT_EQ(m.get_number("split.seed", 0), 3);
  EXPECT_THROW(m.apply_override("novalue"), std::invalid_argument);
}

TEST(Manifest, OverridesRejectUnknownKeysAndWrongTypes) {
  auto m = load_manifest(write_manifest("toymnist.toml", kValid));
  for (const char* bad : {"preprocess.resize_kernl=area", "nonexistent.key=1", "new.section.value=3",
                          "split.ratios=fast", "preprocess.crop=3", "preprocess=1"}) {
    EXPECT_THROW(m.apply_override(bad), std::invalid_argument) << bad;
  }
  EXPECT_EQ(m.get_numbers("split.ratios", {}), (std::vector<double>{7, 1, 2}));  // unchanged
  m.apply_override("source.class_prefixes.neutrophil=[\"SNE\"]");  // a prefix key
  m.apply_override("preprocess.resize_kernel_224=area");           // per-size kernel keys
}

TEST(Manifest, SettingValuesAreValidatedBeforeTheBuild) {
  auto m = load_manifest(write_manifest("toymnist.toml", kValid));
  validate_settings(m);
  m.apply_override("split.group=whatever");
  EXPECT_THROW(validate_settings(m), std::invalid_argument);
  m.apply_override("split.group=none");
  validate_settings(m);
  m.apply_override("preprocess.resize_kernel=bogus");
  try {
    validate_settings(m);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("preprocess.resize_kernel"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("spline"), std::string::npos) << e.what();  // the valid names
  }
  m.apply_override("preprocess.resize_kernel=area");
  m.apply_override("preprocess.resize_kernel_28=[\"nearest\", \"sideways\"]");
  EXPECT_THROW(validate_settings(m), std::invalid_argument);
}

TEST(Manifest, ErrorsNameTheFileAndTheKey) {
  std::string text = kValid;
  text.replace(text.find("python_class"), 12, "pythonclass");
  try {
    load_manifest(write_manifest("toymnist.toml", text));
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("toymnist.toml: missing required key 'dataset.python_class'"), std::string::npos);
  }
  EXPECT_THROW(load_manifest(write_manifest("othermnist.toml", kValid)), std::runtime_error);  // name != flag
  EXPECT_THROW(load_manifest(write_manifest("toymnist.toml", "[dataset\n")), std::runtime_error);
  auto m = load_manifest(write_manifest("toymnist.toml", kValid));
  EXPECT_THROW(m.get_number("preprocess.crop", 0), std::runtime_error);
}

TEST(Preprocess, ParamsComeFromTheManifest) {
  auto m = load_manifest(write_manifest("toymnist.toml", kValid));
  auto p = preprocess_params(m);
  EXPECT_EQ(p.crop, CropRule::Center);
  EXPECT_EQ(p.crop_width, 200);
  EXPECT_EQ(p.crop_height, 100);
  EXPECT_EQ(p.kernel, ResizeKernel::Spline);
  m.apply_override("preprocess.crop=sideways");
  EXPECT_THROW(preprocess_params(m), std::runtime_error);
}

TEST(Preprocess, CropsThenResizesToEverySize) {
  auto m = load_manifest(write_manifest("toymnist.toml", kValid));
  m.apply_override("preprocess.crop=center_square");
  Image img(40, 30, 1, 3);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) img.at(x, y, 0, 0) = x < 5 || x >= 35 ? 255 : 0;  // red bars outside the square
  auto out = preprocess(img, preprocess_params(m), {28, 64});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].width, 28);
  EXPECT_EQ(out[1].height, 64);
  EXPECT_EQ(out[0].channels, 1);
  for (auto v : out[1].pixels) EXPECT_EQ(v, 0);  // the bars were cropped away
}

TEST(ManifestFiles, EveryRepositoryManifestLoads) {
  for (const auto& entry : fs::directory_iterator(fs::path(MMB_SOURCE_DIR) / "manifests")) {
    auto m = load_manifest(entry.path());
    EXPECT_FALSE(m.labels.empty()) << entry.path();
    EXPECT_NO_THROW(preprocess_params(m)) << entry.path();
  }
}

// Found by fuzz_manifest in CI: "sizes = [1e300]" reached static_cast<int> (undefined behaviour,
// UBSan float-cast-overflow). Whole numbers are now range-checked before any cast.
TEST(Manifest, OutOfRangeNumbersAreNamedErrorsNotCasts) {
  for (const char* sizes : {"[1e300]", "[-28]", "[28.5]", "[0]", "[nan]", "[inf]"}) {
    std::string text = kValid;
    text.replace(text.find("[28, 64]"), 8, sizes);
    try {
      load_manifest(write_manifest("toymnist.toml", text));
      ADD_FAILURE() << sizes << " was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("dataset.sizes"), std::string::npos) << e.what();
    }
  }
  auto m = load_manifest(write_manifest("toymnist.toml", kValid));
  EXPECT_EQ(m.get_integer("split.seed", 7, 0, 100), 7);  // absent: the fallback
  m.apply_override("split.seed=42");
  EXPECT_EQ(m.get_integer("split.seed", 0, 0, INT64_MAX), 42);
  m.apply_override("split.seed=3.0");
  EXPECT_EQ(m.get_integer("split.seed", 0, 0, INT64_MAX), 3);
  for (const char* bad : {"split.seed=-1", "split.seed=1e300", "split.seed=2.5", "split.seed=9.3e18", "split.seed=nan"}) {
    m.apply_override(bad);
    EXPECT_THROW(m.get_integer("split.seed", 0, 0, INT64_MAX), std::runtime_error) << bad;
  }
  EXPECT_THROW(m.get_integer("preprocess.crop", 0, 0, 10), std::runtime_error);  // a string
}
