// The shared pipeline with an in-memory converter: ordering, determinism,
// error policy and split planning, independent of any real dataset.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "common/npz/npz_reader.h"
#include "common/pipeline/build.h"
#include "common/pipeline/sidecar.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-pipe-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Manifest toy_manifest() {
  const fs::path dir = temp_dir("manifest");
  std::ofstream(dir / "toymnist.toml") << R"(
[dataset]
flag = "toymnist"
python_class = "ToyMNIST"
task = "multi-class"
license = "CC BY 4.0"
dim = 2
n_channels = 1
sizes = [28, 64]
labels = ["zero", "one", "two"]
n_samples = { train = 70, val = 10, test = 20 }
[split]
seed = 5
)";
  return load_manifest(dir / "toymnist.toml");
}

// Samples "s000".."s099" of 5 subjects' worth each; the image brightness is
// the label, so a test can see that labels stay with their pixels.
class ToyConverter : public Converter {
 public:
  std::set<std::string> broken, blank;
  std::string flag() const override { return "toymnist"; }
  std::string source_summary() const override { return "in memory"; }
  bool identify(const fs::path&) const override { return true; }
  Enumeration enumerate(const fs::path&, const Manifest&) const override {
    Enumeration e;
    for (int i = 0; i < 100; ++i) {
      char id[8];
      std::snprintf(id, sizeof id, "s%03d", i);
      Sample s;
      s.id = s.path = id;
      s.subject = "p" + std::to_string(i / 5);
      s.label = {static_cast<std::uint8_t>(i % 3)};
      e.samples.push_back(s);
    }
    e.split_rule = "toy";
    return e;
  }
  Image load(const Sample& s, const Manifest&) const override {
    if (broken.count(s.id)) throw InputError(s.path, "corrupt toy");
    if (blank.count(s.id)) throw SampleDropped("blank toy");
    Image img(50, 40, 1, 1);
    std::fill(img.pixels.begin(), img.pixels.end(), static_cast<std::uint8_t>(40 + 80 * s.label[0]));
    return img;
  }
};

BuildOptions options(const fs::path& out, int threads) {
  BuildOptions o;
  o.source = "toy";
  o.out_dir = out;
  o.threads = threads;
  o.progress = false;
  return o;
}

}  // namespace

// Repeated builds, because a nondeterministic compressor (ISA-L on AVX-512
// machines) differed in only a few percent of runs.
TEST(Build, SameBytesForAnyThreadCountAndEveryRun) {
  ToyConverter toy;
  auto m = toy_manifest();
  const fs::path first = temp_dir("run0");
  build_dataset(toy, m, options(first, 1));
  for (int run = 1; run < 8; ++run) {
    const fs::path again = temp_dir("run" + std::to_string(run));
    build_dataset(toy, m, options(again, 1 + run % 2));
    for (auto name : {"toymnist.npz", "toymnist_64.npz"})
      EXPECT_EQ(sha256_file(first / name), sha256_file(again / name)) << name << ", run " << run;
  }
}

TEST(Build, LabelsStayWithTheirPixelsInEverySplit) {
  ToyConverter toy;
  const fs::path out = temp_dir("labels");
  auto r = build_dataset(toy, toy_manifest(), options(out, 2));
  EXPECT_EQ(r.counts[0] + r.counts[1] + r.counts[2], 100u);
  for (std::string split : {"train", "val", "test"}) {
    auto images = read_npz_array(out / "toymnist_64.npz", split + "_images");
    auto labels = read_npz_array(out / "toymnist_64.npz", split + "_labels");
    ASSERT_EQ(images.shape, (std::vector<std::size_t>{labels.shape[0], 64, 64}));
    for (std::size_t i = 0; i < labels.shape[0]; ++i) EXPECT_EQ(images.data[i * 64 * 64 + 100], 40 + 80 * labels.data[i]);
  }
}

TEST(Build, SkipRecordsTheBadInputAndKeepsTheRest) {
  ToyConverter toy;
  toy.broken = {"s007"};
  auto o = options(temp_dir("skip"), 2);
  o.on_error = OnError::Skip;
  auto r = build_dataset(toy, toy_manifest(), o);
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].where, "s007");
  EXPECT_EQ(r.skipped[0].reason, "corrupt toy");
  EXPECT_EQ(r.counts[0] + r.counts[1] + r.counts[2], 99u);
}

TEST(Build, DroppedSamplesAreRecordedAndDoNotFailTheBuild) {
  ToyConverter toy;
  toy.blank = {"s003", "s050"};
  const fs::path out = temp_dir("dropped");
  auto r = build_dataset(toy, toy_manifest(), options(out, 2));  // --on-error fail
  ASSERT_EQ(r.dropped.size(), 2u);
  EXPECT_EQ(r.dropped[0].where, "s003");
  EXPECT_EQ(r.dropped[0].reason, "blank toy");
  EXPECT_TRUE(r.skipped.empty());
  EXPECT_EQ(r.counts[0] + r.counts[1] + r.counts[2], 98u);
}

TEST(Build, FailStopsWithTheInputNamedAndLeavesNoFiles) {
  ToyConverter toy;
  toy.broken = {"s042"};
  const fs::path out = temp_dir("fail");
  try {
    build_dataset(toy, toy_manifest(), options(out, 2));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "s042: corrupt toy");
  }
  EXPECT_TRUE(fs::is_empty(out));
}

TEST(Build, RejectsASizeTheDatasetDoesNotHave) {
  ToyConverter toy;
  auto o = options(temp_dir("size"), 1);
  o.sizes = {128};
  EXPECT_THROW(build_dataset(toy, toy_manifest(), o), std::invalid_argument);
}

TEST(PlanSplits, SubjectsNeverCrossAndOrderIsSplitThenId) {
  ToyConverter toy;
  auto m = toy_manifest();
  auto plan = plan_splits(toy.enumerate("", m), m, options("", 1));
  std::map<std::string, Split> subject_split;
  for (std::size_t i = 0; i < plan.samples.size(); ++i) {
    const auto& s = plan.samples[i];
    auto [it, fresh] = subject_split.emplace(s.subject, s.split);
    EXPECT_EQ(it->second, s.split) << s.subject;
    if (i > 0) {
      const auto& prev = plan.samples[i - 1];
      EXPECT_TRUE(prev.split < s.split || (prev.split == s.split && prev.id < s.id));
    }
  }
}

TEST(PlanSplits, ImageLevelRatioSplitIsExact) {
  ToyConverter toy;
  auto m = toy_manifest();
  auto o = options("", 1);
  o.split_mode = SplitMode::Ratio;
  o.group_by_subject = false;
  auto plan = plan_splits(toy.enumerate("", m), m, o);
  std::array<int, 3> n{};
  for (const auto& s : plan.samples) ++n[static_cast<int>(s.split)];
  EXPECT_EQ(n, (std::array<int, 3>{70, 10, 20}));
}

TEST(PlanSplits, ListFilesFixMembershipAndReportStrangers) {
  ToyConverter toy;
  auto m = toy_manifest();
  const fs::path dir = temp_dir("lists");
  std::ofstream(dir / "train.txt") << "s001\ns002\n";
  std::ofstream(dir / "val.txt") << "s003";
  std::ofstream(dir / "test.txt") << "s004\nnobody\n";
  auto o = options("", 1);
  o.split_mode = SplitMode::Lists;
  o.lists_dir = dir;
  auto plan = plan_splits(toy.enumerate("", m), m, o);
  ASSERT_EQ(plan.samples.size(), 4u);
  EXPECT_EQ(plan.samples[3].id, "s004");
  EXPECT_EQ(plan.samples[3].split, Split::Test);
  EXPECT_EQ(plan.dropped.size(), 96u);
  EXPECT_EQ(plan.not_in_source, std::vector<std::string>{"nobody"});
}
