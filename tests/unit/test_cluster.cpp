// Cluster support: the job-array index of --shard auto, the all-or-nothing
// output commit and its recovery after a crash, and parallel DEFLATE giving
// the serial bytes.
#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>

#include "common/npz/npz_reader.h"
#include "common/npz/npz_writer.h"
#include "common/pipeline/cluster.h"
#include "common/pipeline/output_commit.h"
#include "common/pipeline/sidecar.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("mmb-cluster-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::function<const char*(const char*)> env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* k) -> const char* {
    auto it = shared->find(k);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A pid that certainly belongs to no running process: a child that has exited and been reaped.
long dead_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

}  // namespace

TEST(ParseShard, ExplicitIndexIsZeroBased) {
  const auto s = parse_shard("2/7", env({}));
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 7);
  for (const char* bad : {"7/7", "-1/3", "1", "a/b", "1/0", "auto"})
    EXPECT_THROW(parse_shard(bad, env({})), std::invalid_argument) << bad;
}

TEST(ParseShard, AutoReadsSlurmGridEngineAndPbs) {
  // sbatch --array=1-7: task ids 1..7, SLURM_ARRAY_TASK_MIN=1.
  auto s = parse_shard("auto", env({{"SLURM_ARRAY_TASK_ID", "7"}, {"SLURM_ARRAY_TASK_MIN", "1"},
                                    {"SLURM_ARRAY_TASK_COUNT", "7"}}));
  EXPECT_EQ(s.index, 6);
  EXPECT_EQ(s.count, 7);
  // qsub -t 1-9:2 : ids 1,3,5,7,9.
  s = parse_shard("auto", env({{"SGE_TASK_ID", "5"}, {"SGE_TASK_FIRST", "1"}, {"SGE_TASK_LAST", "9"},
                               {"SGE_TASK_STEPSIZE", "2"}}));
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  s = parse_shard("auto/4", env({{"PBS_ARRAY_INDEX", "3"}}));
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 4);
  EXPECT_THROW(parse_shard("auto", env({{"PBS_ARRAY_INDEX", "3"}})), std::invalid_argument);
  EXPECT_THROW(parse_shard("auto", env({{"SGE_TASK_ID", "undefined"}})), std::invalid_argument);
}

TEST(OutputSet, CommitRenamesEverythingAndLeavesNoJournal) {
  const fs::path dir = temp_dir("commit");
  OutputSet set;
  for (const char* name : {"a.npz", "a.json"}) std::ofstream(partial_path(dir / name)) << name;
  set.add(partial_path(dir / "a.npz"), dir / "a.npz");
  set.add_sidecar(partial_path(dir / "a.json"), dir / "a.json");
  set.commit();
  EXPECT_EQ(read(dir / "a.npz"), "a.npz");
  EXPECT_EQ(read(dir / "a.json"), "a.json");
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 2u);
  fs::remove_all(dir);
}

TEST(OutputSet, DestructorWithoutCommitRemovesTheTempFiles) {
  const fs::path dir = temp_dir("abort");
  {
    OutputSet set;
    std::ofstream(partial_path(dir / "a.npz")) << "x";
    set.add(partial_path(dir / "a.npz"), dir / "a.npz");
  }
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

// A process killed between the first and the last rename left its journal:
// the next build finishes the commit, so the folder holds the new set whole.
TEST(RecoverOutputDir, FinishesTheCommitOfADeadProcessAndRemovesItsPartials) {
  const fs::path dir = temp_dir("recover");
  const std::string pid = std::to_string(dead_pid());
  std::ofstream(dir / "x.npz") << "new x";                       // renamed before the crash
  std::ofstream(dir / ("y.npz.partial-" + pid)) << "new y";      // not yet
  std::ofstream(dir / ("y.json.partial-" + pid)) << "new y side";
  std::ofstream(dir / "y.npz") << "old y";
  std::ofstream(dir / ("stray.npz.partial-" + pid)) << "half";   // another file of the dead process
  std::ofstream(dir / ("mine.npz.partial-" + std::to_string(::getpid()))) << "alive";
  nlohmann::ordered_json journal;
  for (const char* f : {"x.npz", "y.npz", "y.json"})
    journal["renames"].push_back({{"from", (dir / (std::string(f) + ".partial-" + pid)).string()},
                                  {"to", (dir / f).string()}});
  std::ofstream(dir / (".medmnist-commit-" + pid + ".json")) << journal.dump();

  const auto report = recover_output_dir(dir);
  ASSERT_EQ(report.size(), 2u);
  EXPECT_NE(report[0].find("2 files renamed into place"), std::string::npos) << report[0];
  EXPECT_NE(report[1].find("stray.npz.partial-" + pid), std::string::npos) << report[1];
  EXPECT_EQ(read(dir / "y.npz"), "new y");
  EXPECT_EQ(read(dir / "y.json"), "new y side");
  EXPECT_FALSE(fs::exists(dir / ("stray.npz.partial-" + pid)));
  EXPECT_FALSE(fs::exists(dir / (".medmnist-commit-" + pid + ".json")));
  EXPECT_TRUE(fs::exists(dir / ("mine.npz.partial-" + std::to_string(::getpid()))));  // a live process's
  fs::remove_all(dir);
}

// Many chunks in flight on 8 threads, or none in flight on 1: the same bytes.
TEST(ParallelDeflate, SameBytesOnOneThreadAndOnEight) {
  const fs::path dir = temp_dir("deflate");
  std::vector<std::uint8_t> data((9u << 20) + 12345);
  std::mt19937 rng(7);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>((i / 700) % 5 * 40 + rng() % 9);
  auto write = [&](const fs::path& p) {
    NpzWriter w(p);
    w.begin_array("images", {100});
    for (std::size_t at = 0; at < data.size(); at += 100 * 331)
      w.append(data.data() + at, std::min<std::size_t>(100 * 331, data.size() - at) / 100 * 100);
    w.end_array();
    w.commit();
  };
  {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    write(dir / "one.npz");
  }
  tbb::task_arena(8).execute([&] { write(dir / "eight.npz"); });
  EXPECT_EQ(sha256_file(dir / "one.npz"), sha256_file(dir / "eight.npz"));
  const auto back = read_npz_array(dir / "eight.npz", "images");
  EXPECT_TRUE(std::equal(back.data.begin(), back.data.end(), data.begin()));
  fs::remove_all(dir);
}
