// Deterministic splits: targets, grouped assignment, list files, index maps.
#include "common/split/split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace mmb;

namespace {

// ------------------------------------------------------------- helpers --

std::vector<Sample> singletons(std::size_t n) {
  std::vector<Sample> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i].id = "img_" + std::to_string(i) + ".png";
  return v;
}

// "p<k>". Via a stream: GCC 12 warns falsely (-Wrestrict) on "p" + to_string(k).
std::string subject_name(std::size_t k) {
  std::ostringstream name;
  name << 'p' << k;
  return name.str();
}

// Subjects "p<k>" with 1..5 samples each (sizes drawn from a fixed-seed RNG).
std::vector<Sample> grouped(std::size_t n_subjects, unsigned rng_seed) {
  std::mt19937 rng(rng_seed);
  std::uniform_int_distribution<int> size(1, 5);
  std::vector<Sample> v;
  for (std::size_t k = 0; k < n_subjects; ++k) {
    const int m = size(rng);
    for (int j = 0; j < m; ++j) {
      Sample s;
      s.subject = subject_name(k);
      s.id = s.subject + "_" + std::to_string(j) + ".png";
      v.push_back(s);
    }
  }
  return v;
}

std::map<Split, std::size_t> counts(const std::vector<Sample>& v) {
  std::map<Split, std::size_t> c;
  for (const Sample& s : v) ++c[s.split];
  return c;
}

std::map<std::string, Split> by_id(const std::vector<Sample>& v) {
  std::map<std::string, Split> m;
  for (const Sample& s : v) m[s.id] = s.split;
  return m;
}

std::size_t abs_gap(std::size_t a, std::size_t b) { return a > b ? a - b : b - a; }

// A temp directory per test, removed afterwards.
class SplitFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mmb_test_split_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& bytes) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  fs::path dir_;
};

// Runs read_index_map and returns the error message ("" if none).
std::string index_map_error(const fs::path& file) {
  try {
    read_index_map(file);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// ------------------------------------------------------------- targets --

TEST(SplitTargets, RoundingRuleGivesDocumentedCounts) {
  auto t = split_targets(780, {7, 1, 2});
  EXPECT_EQ(t.train, 546u); EXPECT_EQ(t.val, 78u); EXPECT_EQ(t.test, 156u);
  t = split_targets(10015, {7, 1, 2});  // val 1001.5 rounds half up
  EXPECT_EQ(t.train, 7010u); EXPECT_EQ(t.val, 1002u); EXPECT_EQ(t.test, 2003u);
  t = split_targets(17092, {7, 1, 2});
  EXPECT_EQ(t.train, 11965u); EXPECT_EQ(t.val, 1709u); EXPECT_EQ(t.test, 3418u);
  t = split_targets(236386, {7, 1, 2});
  EXPECT_EQ(t.train, 165470u); EXPECT_EQ(t.val, 23639u); EXPECT_EQ(t.test, 47277u);
}

TEST(SplitTargets, ZeroRatioGivesZero) {
  auto t = split_targets(1200, {9, 1, 0});
  EXPECT_EQ(t.train, 1080u); EXPECT_EQ(t.val, 120u); EXPECT_EQ(t.test, 0u);
  t = split_targets(5, {1, 0, 0});
  EXPECT_EQ(t.train, 5u); EXPECT_EQ(t.val, 0u); EXPECT_EQ(t.test, 0u);
}

TEST(SplitTargets, NeverExceedsNWhenBothRoundUp) {
  auto t = split_targets(1, {0, 1, 1});  // 0.5 and 0.5 both round up
  EXPECT_EQ(t.train + t.val + t.test, 1u);
}

TEST(SplitTargets, RejectsNegativeOrAllZeroRatios) {
  EXPECT_THROW(split_targets(10, {7, -1, 2}), std::invalid_argument);
  EXPECT_THROW(split_targets(10, {0, 0, 0}), std::invalid_argument);
  EXPECT_NO_THROW(split_targets(0, {0, 0, 0}));
}

// ---------------------------------------------------------------- hash --

TEST(GroupHash, MatchesPinnedValuesSoOrdersArePortable) {
  // Computed independently (Python) from splitmix64(fnv1a64(key) ^
  // splitmix64(seed)). A change here changes every generated split.
  EXPECT_EQ(group_hash(0, ""), 0x5b21f68ffa77f14cull);
  EXPECT_EQ(group_hash(0, "s:p1"), 0x5d4fbb613ea64cf5ull);
  EXPECT_EQ(group_hash(42, "i:img_0.png"), 0xeb65db9f4aa2f758ull);
  EXPECT_EQ(group_hash(1, "s:\xC3\xA9"), 0x7d470526849abe1eull);  // bytes, not chars
}

// ------------------------------------------------------- grouped split --

TEST(GroupedRatioSplit, ExactCountsOn780Singletons) {
  auto v = singletons(780);
  grouped_ratio_split(v, {7, 1, 2}, 1);
  auto c = counts(v);
  EXPECT_EQ(c[Split::Train], 546u);
  EXPECT_EQ(c[Split::Val], 78u);
  EXPECT_EQ(c[Split::Test], 156u);
  EXPECT_EQ(c[Split::Unassigned], 0u);
}

TEST(GroupedRatioSplit, GroupsNeverCrossSplits) {
  for (unsigned rng_seed : {1u, 2u, 3u})
    for (std::uint64_t seed : {0ull, 7ull, 12345ull}) {
      auto v = grouped(300, rng_seed);
      grouped_ratio_split(v, {7, 1, 2}, seed);
      std::map<std::string, Split> subject_split;
      for (const Sample& s : v) {
        auto [it, fresh] = subject_split.try_emplace(s.subject, s.split);
        EXPECT_EQ(it->second, s.split) << s.subject << " crosses splits, seed " << seed;
      }
    }
}

TEST(GroupedRatioSplit, CountsWithinMaxGroupSizeOfTargets) {
  const std::size_t max_group = 5;
  for (unsigned rng_seed : {4u, 5u, 6u})
    for (std::uint64_t seed : {0ull, 99ull}) {
      auto v = grouped(200, rng_seed);
      const auto t = split_targets(v.size(), {7, 1, 2});
      grouped_ratio_split(v, {7, 1, 2}, seed);
      auto c = counts(v);
      // Test and val never overshoot and fall short by less than one group.
      EXPECT_LE(c[Split::Test], t.test);
      EXPECT_LT(t.test - c[Split::Test], max_group);
      EXPECT_LE(c[Split::Val], t.val);
      EXPECT_LT(t.val - c[Split::Val], max_group);
      // Train absorbs both shortfalls.
      EXPECT_LT(abs_gap(c[Split::Train], t.train), 2 * max_group);
      EXPECT_EQ(c[Split::Unassigned], 0u);
    }
}

TEST(GroupedRatioSplit, SameResultForShuffledInputOrder) {
  auto a = grouped(150, 7);
  auto b = a;
  std::mt19937 rng(3);
  std::shuffle(b.begin(), b.end(), rng);
  grouped_ratio_split(a, {7, 1, 2}, 11);
  grouped_ratio_split(b, {7, 1, 2}, 11);
  EXPECT_EQ(by_id(a), by_id(b));
}

TEST(GroupedRatioSplit, DifferentSeedsGiveDifferentAssignments) {
  auto a = singletons(500), b = singletons(500);
  grouped_ratio_split(a, {7, 1, 2}, 1);
  grouped_ratio_split(b, {7, 1, 2}, 2);
  EXPECT_NE(by_id(a), by_id(b));
  EXPECT_EQ(counts(a), counts(b));  // same targets, different members
}

TEST(GroupedRatioSplit, SameSeedIsRepeatable) {
  auto a = grouped(100, 8), b = grouped(100, 8);
  grouped_ratio_split(a, {7, 1, 2}, 5);
  grouped_ratio_split(b, {7, 1, 2}, 5);
  EXPECT_EQ(by_id(a), by_id(b));
}

TEST(GroupedRatioSplit, FixedSplitsUntouchedAndRatiosApplyToUnassignedOnly) {
  auto v = singletons(1300);
  for (std::size_t i = 0; i < 100; ++i) v[i].split = Split::Test;  // source-fixed test set
  grouped_ratio_split(v, {9, 1, 0}, 3);
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(v[i].split, Split::Test);
  std::map<Split, std::size_t> rest;
  for (std::size_t i = 100; i < v.size(); ++i) ++rest[v[i].split];
  EXPECT_EQ(rest[Split::Train], 1080u);
  EXPECT_EQ(rest[Split::Val], 120u);
  EXPECT_EQ(rest[Split::Test], 0u);
}

TEST(GroupedRatioSplit, WithoutSubjectGroupingEverySampleIsItsOwnGroup) {
  std::vector<Sample> v(10);
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i].id = std::to_string(i);
    v[i].subject = "one_patient";
  }
  auto grouped_by_subject = v;
  grouped_ratio_split(grouped_by_subject, {5, 5, 0}, 0, true);
  EXPECT_EQ(counts(grouped_by_subject).size(), 1u);  // 10 > val target 5: all train
  grouped_ratio_split(v, {5, 5, 0}, 0, false);
  EXPECT_EQ(counts(v)[Split::Val], 5u);
}

TEST(GroupedRatioSplit, SubjectNamesDoNotMergeWithIdsOfUngroupedSamples) {
  // Sample "x" has no subject; subject "x" is a different group of two.
  std::vector<Sample> v(3);
  v[0].id = "x";
  v[1].id = "a"; v[1].subject = "x";
  v[2].id = "b"; v[2].subject = "x";
  // Targets val 1, test 2: whatever the hash order, the singleton and the pair
  // land in different splits; merged into one group of 3 they could not.
  for (std::uint64_t seed : {0ull, 1ull, 2ull, 3ull}) {
    grouped_ratio_split(v, {0, 1, 2}, seed);
    EXPECT_NE(v[0].split, v[1].split) << "seed " << seed;
    EXPECT_EQ(v[1].split, v[2].split) << "seed " << seed;
    for (Sample& s : v) s.split = Split::Unassigned;
  }
}

// ---------------------------------------------------------- list files --

TEST_F(SplitFiles, NameListToleratesCrlfBomAndNoTrailingNewline) {
  auto p = write("list.txt", "\xEF\xBB\xBF" "a.png 1\r\n\r\n  b.png\t0\r\n\nc.png");
  EXPECT_EQ(read_name_list(p), (std::vector<std::string>{"a.png", "b.png", "c.png"}));
}

TEST_F(SplitFiles, MissingNameListIsReportedAsMissing) {
  try {
    read_name_list(dir_ / "absent.txt");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), dir_ / "absent.txt");
    EXPECT_EQ(e.reason(), "file is missing");
  }
}

// ----------------------------------------------------------- index map --

TEST_F(SplitFiles, IndexMapParsesHeaderQuotesCrlfAndSplitSpellings) {
  auto p = write("map.csv",
                 "\xEF\xBB\xBF" "split,index,image_id\r\n"
                 "train,0,a.png\r\n"
                 "valid,3,\"b.png\"\r\n"
                 "\"test\", 1 ,c.png");
  auto m = read_index_map(p);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at("a.png").split, Split::Train);
  EXPECT_EQ(m.at("b.png").split, Split::Val);
  EXPECT_EQ(m.at("b.png").index, 3u);
  EXPECT_EQ(m.at("c.png").split, Split::Test);
  EXPECT_EQ(m.at("c.png").index, 1u);
}

TEST_F(SplitFiles, IndexMapWithoutHeader) {
  auto p = write("map.csv", "test,0,a.png\ntrain,0,b.png\n");
  EXPECT_EQ(read_index_map(p).size(), 2u);
}

TEST_F(SplitFiles, MalformedIndexMapRowsNameFileAndLine) {
  struct Case { const char* body; const char* line; const char* why; };
  const Case cases[] = {
      {"split,index,image_id\ntrain,0,a.png\ntrain,1\n", ":3", "expected 3 fields"},
      {"train,0,a.png\ntrain,1,b.png,extra\n", ":2", "expected 3 fields"},
      {"train,0,a.png\nholdout,1,b.png\n", ":2", "unknown split"},
      {"train,0,a.png\ntrain,x,b.png\n", ":2", "not a non-negative integer"},
      {"train,0,a.png\ntrain,-1,b.png\n", ":2", "not a non-negative integer"},
      {"train,0,a.png\n\ntrain,1,\"b.png\n", ":3", "unbalanced quotes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    auto p = write("bad.csv", c.body);
    const std::string msg = index_map_error(p);
    EXPECT_NE(msg.find(p.string() + c.line + ":"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.why), std::string::npos) << msg;
  }
}

TEST_F(SplitFiles, IndexMapRejectsDuplicateIdsAndIndices) {
  auto p = write("dup_id.csv", "train,0,a.png\nval,0,a.png\n");
  std::string msg = index_map_error(p);
  EXPECT_NE(msg.find(p.string() + ":2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("duplicate image_id 'a.png'"), std::string::npos) << msg;

  p = write("dup_index.csv", "split,index,image_id\ntrain,0,a.png\ntest,0,b.png\ntrain,0,c.png\n");
  msg = index_map_error(p);
  EXPECT_NE(msg.find(p.string() + ":4:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("duplicate train index 0"), std::string::npos) << msg;
}

TEST_F(SplitFiles, MissingIndexMapIsCannotRead) {
  EXPECT_THROW(read_index_map(dir_ / "absent.csv"), InputError);
}

TEST(ApplyIndexMap, ReordersDropsAndReportsBothWays) {
  auto v = singletons(10);  // img_0 .. img_9, enumerated in order
  std::map<std::string, IndexMapEntry> m;
  // Reversed order, with gaps: img_9 is train 0, img_8 train 1, ...; img_3 and
  // img_5 left out; val and test take the low ids, also reversed.
  std::size_t train = 0, val = 0, test = 0;
  for (int i = 9; i >= 0; --i) {
    if (i == 3 || i == 5) continue;
    const std::string id = "img_" + std::to_string(i) + ".png";
    if (i >= 4) m[id] = {Split::Train, 2 * train++};   // even indices: gaps
    else if (i >= 2) m[id] = {Split::Val, val++};
    else m[id] = {Split::Test, test++};
  }
  m["unknown.png"] = {Split::Test, 99};
  v[0].split = Split::Train;  // the map overrides a source split

  auto r = apply_index_map(v, m);
  std::vector<std::string> ids;
  for (const Sample& s : r.ordered) ids.push_back(s.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"img_9.png", "img_8.png", "img_7.png", "img_6.png",
                                           "img_4.png", "img_2.png", "img_1.png",
                                           "img_0.png"}));
  EXPECT_EQ(r.ordered.front().split, Split::Train);
  EXPECT_EQ(r.ordered[5].split, Split::Val);
  EXPECT_EQ(r.ordered.back().split, Split::Test);
  EXPECT_EQ(r.not_in_map, (std::vector<std::string>{"img_3.png", "img_5.png"}));
  EXPECT_EQ(r.not_in_source, (std::vector<std::string>{"unknown.png"}));
}

TEST(ApplyIndexMap, RejectsAnIdEnumeratedTwice) {
  auto v = singletons(2);
  v[1].id = v[0].id;
  std::map<std::string, IndexMapEntry> m{{v[0].id, {Split::Train, 0}}};
  EXPECT_THROW(apply_index_map(v, m), InputError);
}

// ------------------------------------------------------------ ordering --

TEST(OrderBySplitThenId, TrainValTestThenIdUnassignedLast) {
  std::vector<Sample> v(6);
  const std::pair<const char*, Split> spec[] = {
      {"b", Split::Test}, {"z", Split::Unassigned}, {"c", Split::Train},
      {"a", Split::Val},  {"B", Split::Train},      {"a", Split::Test}};
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i].id = spec[i].first;
    v[i].split = spec[i].second;
  }
  order_by_split_then_id(v);
  std::vector<std::string> got;
  for (const Sample& s : v) got.push_back(std::string(split_name(s.split)) + "/" + s.id);
  EXPECT_EQ(got, (std::vector<std::string>{"train/B", "train/c", "val/a", "test/a", "test/b",
                                           "unassigned/z"}));
}

}  // namespace

// ------------------------------------------------------- expected list --

TEST_F(SplitFiles, ExpectedNamesFromAnIndexMapOrANameList) {
  EXPECT_EQ(read_expected_names(write("map.csv", "split,index,image_id\ntrain,0,a.tif\ntest,0,b.tif\n")),
            (std::set<std::string>{"a.tif", "b.tif"}));
  EXPECT_EQ(read_expected_names(write("list.txt", "a.tif\r\n\nc.tif extra\n")),
            (std::set<std::string>{"a.tif", "c.tif"}));
}

TEST_F(SplitFiles, ExpectedListReportsMissingAndUnexpectedAndKeepsTheSamples) {
  Enumeration e;
  for (const char* id : {"a.tif", "x.tif"}) {
    Sample& s = e.samples.emplace_back();
    s.id = id;
    s.path = dir_ / id;
  }
  compare_with_expected_list({}, e);  // no list: nothing to compare
  EXPECT_TRUE(e.missing.empty() && e.unexpected.empty() && e.notes.empty());
  const fs::path list = write("list.txt", "a.tif\nb.tif\n");
  compare_with_expected_list(list, e);
  EXPECT_EQ(e.samples.size(), 2u);
  EXPECT_EQ(e.missing, (std::vector<std::string>{"b.tif"}));
  EXPECT_EQ(e.unexpected, (std::vector<fs::path>{dir_ / "x.tif"}));
  EXPECT_EQ(e.notes, (std::vector<std::string>{"expected images from " + list.string()}));
}
