#pragma once
// Past one machine (docs/cluster.md): `plan` enumerates and splits once and
// writes a plan file; `build --plan --shard i/n` renders a contiguous range of
// it (cut only between units, balanced by source bytes) into shard files;
// `merge` checks the shards and streams them through the same writer and
// commit as a one-machine build, so the .npz files and sidecars are the same
// bytes.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/pipeline/build.h"

namespace mmb {

// Where the manifests of a plan come from, so shards load the same ones.
struct ManifestSource {
  std::filesystem::path dir;            // empty: default_manifest_dir()
  std::vector<std::string> overrides;   // --set key=value, in order
};

struct Plan {
  std::string hash;                     // sha256 of everything else in the file
  std::string tool_version;
  std::string converter;                // Converter::flag()
  std::vector<std::string> datasets;    // requested flags, in command-line order
  ManifestSource manifest_source;
  nlohmann::ordered_json manifest_content;  // flag -> Manifest::to_json(), checked on load
  BuildOptions options;
  SplitPlan split;                      // the ordered samples, rule, drops
  Enumeration enumeration;              // problems, missing, notes (samples are in split)
  std::vector<std::uint64_t> source_bytes;  // per sample of split.samples

  std::vector<Manifest> load_manifests() const;  // throws if they changed since planning
};

// Enumerates and splits (as build_datasets does, nothing decoded) and writes
// the plan atomically. With --on-error fail an enumeration problem throws.
Plan make_plan(const Converter& converter, const std::vector<Manifest>& manifests, const BuildOptions& options,
               const ManifestSource& source);
void write_plan(const Plan& plan, const std::filesystem::path& file);
// Throws std::runtime_error naming the file if it is not a plan, its hash does
// not match its content, or another tool version wrote it.
Plan read_plan(const std::filesystem::path& file);

struct ShardIndex {
  int index = 0, count = 1;  // 0 <= index < count
};
// "i/n" (0-based i), "auto" or "auto/n": the array task of Slurm
// (SLURM_ARRAY_TASK_ID, _MIN, _STEP, _COUNT), Grid Engine (SGE_TASK_ID, _FIRST,
// _LAST, _STEPSIZE) or PBS (PBS_ARRAY_INDEX; n must be given). getenv is
// injectable for tests. Throws std::invalid_argument on anything else.
ShardIndex parse_shard(const std::string& text,
                       const std::function<const char*(const char*)>& getenv = [](const char* k) { return std::getenv(k); });

// Samples [first, last) of the plan for shard index/count: contiguous, cut only
// where a unit starts, each shard about 1/count of the source bytes. Shards
// past the number of units are empty.
struct SampleRange {
  std::size_t first = 0, last = 0;
};
SampleRange shard_range(const Plan& plan, ShardIndex shard);

// "<out>/.medmnist-shards-<first 12 hex of the hash>" unless given.
std::filesystem::path default_shard_dir(const Plan& plan);
// "shard-0003-of-0007"
std::string shard_name(ShardIndex shard);

struct ShardResult {
  SampleRange range;
  std::size_t written = 0, skipped = 0, dropped = 0;
  std::filesystem::path record;  // the shard's .json, written last
};
// Renders the shard into shard_dir (STORED .npz per dataset and size, then a
// .json naming the plan hash, range, written ids, skips and drops), each file
// renamed into place, so a re-run replaces it whole. threads/progress are the
// shard's own (they do not change bytes).
ShardResult build_shard(const Converter& converter, const Plan& plan, ShardIndex shard,
                        const std::filesystem::path& shard_dir, int threads, bool progress);

// Checks that the shards in shard_dir are exactly the shards of one count for
// this plan (hash and tool version), then writes the datasets' .npz files and
// sidecars into the plan's out folder as one commit. Missing, duplicated or
// foreign shards throw std::runtime_error naming them.
std::vector<BuildResult> merge_shards(const Converter& converter, const Plan& plan,
                                      const std::filesystem::path& shard_dir, int threads, bool progress);

// ---- the whole collection from one config file (`--config sources.toml`) -----------

// sources.toml:
//   out = "/scratch/medmnist"      # optional; --out wins
//   sizes = [28, 64]               # optional, as --sizes
//   on_error = "skip"              # optional, as --on-error
//   compress = true                # optional, false as --no-compress
//   [sources]                      # one folder per dataset (datasets of one
//   chestmnist = "/data/NIH"       #   source, e.g. the four Organ ones, may
//   organamnist = "/data/LiTS"     #   name the same folder: one pass)
struct CollectionConfig {
  std::filesystem::path file;
  std::vector<std::pair<std::string, std::filesystem::path>> sources;  // sorted by dataset (toml++ tables are)
  std::optional<std::filesystem::path> out;
  std::vector<int> sizes;
  std::optional<OnError> on_error;
  std::optional<bool> compress;
};
// Throws std::runtime_error naming the file and the key on anything malformed.
CollectionConfig read_collection_config(const std::filesystem::path& file);

// Every output of the plan has a sidecar recording this plan's hash, and its .npz.
bool outputs_up_to_date(const Plan& plan);
// The one-machine build of a plan, recording its hash in the sidecars.
std::vector<BuildResult> build_from_plan(const Converter& converter, const Plan& plan, int threads, bool progress);

}  // namespace mmb
