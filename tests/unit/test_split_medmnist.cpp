// MedMNIST's per-class split rule at the sources' real class sizes: the
// per-split totals must equal the official counts (tests/data/medmnist-info.json,
// a copy of the medmnist package's INFO) exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/split/split.h"

using namespace mmb;

namespace {

using Counts = std::array<std::size_t, 3>;

Counts official(const std::string& flag) {
  std::ifstream in(std::string(MMB_SOURCE_DIR) + "/tests/data/medmnist-info.json");
  const auto info = nlohmann::json::parse(in);
  const auto& n = info.at(flag).at("n_samples");
  return {n.at("train").get<std::size_t>(), n.at("val").get<std::size_t>(), n.at("test").get<std::size_t>()};
}

// One sample per image, `sizes[c]` images of class c, all left to the rule.
std::vector<Sample> classes(const std::vector<std::size_t>& sizes, Split split = Split::Unassigned,
                            const std::string& prefix = "") {
  std::vector<Sample> v;
  for (std::size_t c = 0; c < sizes.size(); ++c)
    for (std::size_t i = 0; i < sizes[c]; ++i) {
      Sample s;
      s.id = prefix + "c" + std::to_string(c) + "_" + std::to_string(i);
      s.label = {static_cast<std::uint8_t>(c)};
      s.split = split;
      v.push_back(std::move(s));
    }
  return v;
}

Counts count(const std::vector<Sample>& v) {
  Counts c{};
  for (const auto& s : v) {
    EXPECT_NE(s.split, Split::Unassigned) << s.id;
    if (s.split != Split::Unassigned) ++c[static_cast<int>(s.split)];
  }
  return c;
}

// 7:1:2 of everything, per class.
Counts split_712(const std::vector<std::size_t>& sizes) {
  auto v = classes(sizes);
  per_class_ratio_split(v, {7, 1, 2}, 1);
  return count(v);
}

// Source test folder fixed, source train folder cut 9:1 per class.
Counts split_91(const std::vector<std::size_t>& train_folder, const std::vector<std::size_t>& test_folder) {
  auto v = classes(train_folder);
  auto test = classes(test_folder, Split::Test, "test_");
  v.insert(v.end(), test.begin(), test.end());
  per_class_ratio_split(v, {9, 1, 0}, 1);
  return count(v);
}

}  // namespace

// The cut is Python's int(n * 0.7) etc. in IEEE double; values from
// /usr/bin/python3 (int(n*0.7), int(n*0.8), int(n*0.9)). 90, 170, 1420 are
// where double truncation differs from exact n*7/10 (62 vs 63, 118 vs 119,
// 993 vs 994).
TEST(MedmnistClassCut, TruncatesLikePythonInt) {
  const std::map<std::size_t, std::array<std::size_t, 3>> python = {
      {1, {0, 0, 0}},         {2, {1, 1, 1}},         {3, {2, 2, 2}},         {10, {7, 8, 9}},
      {11, {7, 8, 9}},        {13, {9, 10, 11}},      {90, {62, 72, 81}},     {170, {118, 136, 153}},
      {180, {125, 144, 162}}, {330, {230, 264, 297}}, {1420, {993, 1136, 1278}}, {6705, {4693, 5364, 6034}},
      {1000003, {700002, 800002, 900002}}};
  for (const auto& [n, py] : python) {
    const ClassCut c712 = medmnist_class_cut(n, {7, 1, 2});
    EXPECT_EQ(c712.train, py[0]) << n;
    EXPECT_EQ(c712.train + c712.val, py[1]) << n;
    EXPECT_EQ(c712.train + c712.val + c712.test, n) << n;
    const ClassCut c91 = medmnist_class_cut(n, {9, 1, 0});
    EXPECT_EQ(c91.train, py[2]) << n;
    EXPECT_EQ(c91.val, n - py[2]) << n;
    EXPECT_EQ(c91.test, 0u) << n;
  }
  EXPECT_EQ(medmnist_class_cut(0, {7, 1, 2}).train, 0u);
  EXPECT_THROW(medmnist_class_cut(5, {0, 0, 0}), std::invalid_argument);
  EXPECT_THROW(medmnist_class_cut(5, {-1, 1, 2}), std::invalid_argument);
}

// HAM10000 dx counts (Tschandl et al., Sci Data 2018, Table 1; HAM10000_metadata):
// akiec 327, bcc 514, bkl 1099, df 115, mel 1113, nv 6705, vasc 142.
TEST(MedmnistRealCounts, DermaMNIST) {
  EXPECT_EQ(split_712({327, 514, 1099, 115, 1113, 6705, 142}), official("dermamnist"));
}

// PBC (Acevedo et al., Data in Brief 2020, Table 1): basophil 1218, eosinophil 3117,
// erythroblast 1551, ig 2895, lymphocyte 1214, monocyte 1420, neutrophil 3329, platelet 2348.
// Exact integer arithmetic would give 11,960 train: the official 11,959 needs
// int(1420 * 0.7) == 993, i.e. the double cut.
TEST(MedmnistRealCounts, BloodMNIST) {
  EXPECT_EQ(split_712({1218, 3117, 1551, 2895, 1214, 1420, 3329, 2348}), official("bloodmnist"));
}

// BUSI (Al-Dhabyani et al., Data in Brief 2020): benign 437, malignant 210, normal 133,
// on MedMNIST's binary labels 0 = malignant (210), 1 = benign + normal (570).
TEST(MedmnistRealCounts, BreastMNISTOnBinaryLabels) {
  EXPECT_EQ(split_712({210, 437 + 133}), official("breastmnist"));
  // Cut on the three source classes instead, test would be 157: MedMNIST cut its labels.
  EXPECT_NE(split_712({437, 210, 133}), official("breastmnist"));
}

// NCT-CRC-HE-100K (Kather et al., Zenodo 10.5281/zenodo.1214456): ADI 10407, BACK 10566,
// DEB 11512, LYM 11557, MUC 8896, MUS 13536, NORM 8763, STR 10446, TUM 14317;
// CRC-VAL-HE-7K (7,180) is the test set.
TEST(MedmnistRealCounts, PathMNIST) {
  EXPECT_EQ(split_91({10407, 10566, 11512, 11557, 8896, 13536, 8763, 10446, 14317}, {}),
            (Counts{89996, 10004, 0}));
  auto v = classes({10407, 10566, 11512, 11557, 8896, 13536, 8763, 10446, 14317});
  auto test = classes({1338, 847, 339, 634, 1035, 592, 741, 421, 1233}, Split::Test, "test_");  // CRC-VAL-HE-7K
  v.insert(v.end(), test.begin(), test.end());
  per_class_ratio_split(v, {9, 1, 0}, 20180405);
  EXPECT_EQ(count(v), official("pathmnist"));
}

// Kermany et al. (Cell 2018): 37,206 CNV, 11,349 DME, 8,617 DRUSEN, 51,140 NORMAL train images; the
// Mendeley v3 zip holds 108,309, three fewer. Whichever classes the three missing images come from,
// the per-class 9:1 cut gives INFO's 97,477 / 10,832; test folder 250 per class.
TEST(MedmnistRealCounts, OCTMNIST) {
  const std::vector<std::size_t> paper = {37206, 11349, 8617, 51140};
  for (std::size_t a = 0; a < 4; ++a)
    for (std::size_t b = a; b < 4; ++b)
      for (std::size_t c = b; c < 4; ++c) {
        auto sizes = paper;
        --sizes[a], --sizes[b], --sizes[c];
        const Counts train_val = split_91(sizes, {});
        const Counts info = official("octmnist");
        EXPECT_EQ(train_val[0], info[0]) << a << b << c;
        EXPECT_EQ(train_val[1], info[1]) << a << b << c;
      }
  EXPECT_EQ(split_91({37205, 11348, 8616, 51140}, {250, 250, 250, 250}), official("octmnist"));
}

// Kermany chest X-ray train folder NORMAL 1349, PNEUMONIA 3883; test folder 234 / 390.
TEST(MedmnistRealCounts, PneumoniaMNIST) {
  EXPECT_EQ(split_91({1349, 3883}, {234, 390}), official("pneumoniamnist"));
}

// IntrA generated segments (github intra3d2019/IntrA README): 1,694 vessel, 215
// aneurysm. The rule gives 1,335 / 192 / 382; v2.2.4 removed one blank sample
// (val), which the converter drops after the split (split.drop_blank).
TEST(MedmnistRealCounts, VesselMNIST3DBeforeTheBlankDrop) {
  const Counts rule = split_712({1694, 215});
  EXPECT_EQ(rule, (Counts{1335, 192, 382}));
  const Counts info = official("vesselmnist3d");
  EXPECT_EQ(rule[0], info[0]);
  EXPECT_EQ(rule[1] - 1, info[1]);
  EXPECT_EQ(rule[2], info[2]);
}

// A pooled cut (split_targets, round half up) gets none of these right; the
// per-class rule is what the counts show.
TEST(MedmnistRealCounts, PooledCutDoesNotReproduce) {
  const auto pooled = [](std::size_t n) {
    const SplitTargets t = split_targets(n, {7, 1, 2});
    return Counts{t.train, t.val, t.test};
  };
  EXPECT_NE(pooled(10015), official("dermamnist"));
  EXPECT_NE(pooled(17092), official("bloodmnist"));
}

// The cut is per class and the order within a class a seeded hash order:
// neither the input order nor the platform changes membership; the seed does.
TEST(PerClassRatioSplit, MembershipIndependentOfInputOrder) {
  auto a = classes({327, 514, 115});
  auto b = a;
  std::mt19937 rng(7);
  std::shuffle(b.begin(), b.end(), rng);
  per_class_ratio_split(a, {7, 1, 2}, 42);
  per_class_ratio_split(b, {7, 1, 2}, 42);
  std::map<std::string, Split> where;
  for (const auto& s : a) where[s.id] = s.split;
  for (const auto& s : b) EXPECT_EQ(where.at(s.id), s.split) << s.id;

  auto c = classes({327, 514, 115});
  per_class_ratio_split(c, {7, 1, 2}, 43);
  EXPECT_EQ(count(c), count(a));
  std::size_t moved = 0;
  for (const auto& s : c) moved += where.at(s.id) != s.split;
  EXPECT_GT(moved, 0u);
}

TEST(PerClassRatioSplit, EachClassCutOnItsOwn) {
  auto v = classes({327, 1420});
  per_class_ratio_split(v, {7, 1, 2}, 3);
  std::map<int, Counts> per_class;
  for (const auto& s : v) ++per_class[s.label[0]][static_cast<int>(s.split)];
  EXPECT_EQ(per_class[0], (Counts{228, 261 - 228, 327 - 261}));
  EXPECT_EQ(per_class[1], (Counts{993, 1136 - 993, 1420 - 1136}));
}

TEST(PerClassRatioSplit, LeavesFixedSplitsAlone) {
  auto v = classes({100});
  auto fixed = classes({50}, Split::Val, "fixed_");
  v.insert(v.end(), fixed.begin(), fixed.end());
  per_class_ratio_split(v, {9, 1, 0}, 0);
  std::size_t fixed_val = 0;
  for (const auto& s : v)
    if (s.id.rfind("fixed_", 0) == 0) fixed_val += s.split == Split::Val;
  EXPECT_EQ(fixed_val, 50u);
  EXPECT_EQ(count(v), (Counts{90, 60, 0}));
}

// --group subject: lesions (1..5 images, one dx each) never cross splits and
// each class lands within one group of the per-class cut.
TEST(PerClassRatioSplit, GroupedIsStratifiedAndLeakFree) {
  const std::vector<std::size_t> sizes = {327, 514, 1099, 115, 1113, 6705, 142};
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> group_size(1, 5);
  std::vector<Sample> v = classes(sizes);
  std::size_t lesion = 0;
  for (std::size_t i = 0; i < v.size();) {
    const std::size_t k = std::min<std::size_t>(group_size(rng), v.size() - i);
    for (std::size_t j = 0; j < k && i < v.size() && v[i].label == v[i - j].label; ++j, ++i)
      v[i].subject = "lesion" + std::to_string(lesion);
    ++lesion;
  }
  per_class_ratio_split(v, {7, 1, 2}, 20180810, true);
  std::map<std::string, std::set<Split>> splits_of;
  std::map<int, Counts> per_class;
  for (const auto& s : v) {
    splits_of[s.subject].insert(s.split);
    ++per_class[s.label[0]][static_cast<int>(s.split)];
  }
  for (const auto& [subject, splits] : splits_of) EXPECT_EQ(splits.size(), 1u) << subject;
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    const ClassCut cut = medmnist_class_cut(sizes[c], {7, 1, 2});
    // Test and val fall short by less than one group (<= 5 images); train takes the rest.
    EXPECT_LE(per_class[c][2], cut.test);
    EXPECT_GT(per_class[c][2] + 5, cut.test);
    EXPECT_LE(per_class[c][1], cut.val);
    EXPECT_GT(per_class[c][1] + 5, cut.val);
  }
}
