#pragma once
// Building one dataset: enumerate -> plan splits -> decode and transform in
// parallel -> write every size in order -> commit files and sidecars.
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/core/sample.h"
#include "common/manifest/manifest.h"
#include "common/pipeline/converter.h"

namespace mmb {

enum class OnError { Fail, Skip };
enum class SplitMode { Source, Ratio, Lists };

struct BuildOptions {
  std::filesystem::path source;
  std::filesystem::path out_dir;
  std::vector<int> sizes;                 // empty: the manifest's sizes
  int threads = 0;                        // 0: all cores
  OnError on_error = OnError::Fail;
  bool compress = true;
  std::optional<std::filesystem::path> index_map;
  SplitMode split_mode = SplitMode::Source;
  std::optional<std::array<double, 3>> ratios;  // overrides the rule's ratios
  std::filesystem::path lists_dir;        // SplitMode::Lists: train.txt, val.txt, test.txt
  std::optional<bool> group_by_subject;   // default: manifest split.group != "none"
  std::optional<std::uint64_t> seed;      // default: manifest split.seed
  bool progress = true;
  // Set by `build --config` (common/pipeline/cluster.h): recorded in the
  // sidecars as plan_sha256, so a second run can skip outputs that are up to date.
  std::string plan_hash;
  std::size_t unit_memory_mb = 0;         // units (volumes) in flight; 0: half the machine's memory
  bool strict = false;                    // documented source quirks (Enumeration::quirks) stop the build,
                                          // and a decoder warning makes its sample an input error
  bool deep_check = false;                // check: decode every input (quick: signatures, headers, end markers)
};

// The samples in output order, and how they got there.
struct SplitPlan {
  std::vector<Sample> samples;            // train, then val, then test
  std::string rule;                       // in words, for the report and sidecar
  std::vector<std::string> dropped;       // enumerated but left out (index map, lists)
  std::vector<std::string> not_in_source; // named by an index map or list, never enumerated
  // What really decided the unassigned samples (recorded in the sidecar), and
  // where each setting came from ("manifest", or the CLI flag that changed it).
  std::string method;                     // "per-class" (MedMNIST's rule), "pooled", or "" (index map)
  std::array<double, 3> ratios{};
  std::uint64_t seed = 0;
  std::string seed_from, group_from, ratios_from;
  bool grouped = false;
};
SplitPlan plan_splits(Enumeration enumeration, const Manifest& manifest, const BuildOptions& options);

struct OutputFile {
  int size = 0;
  std::filesystem::path npz, sidecar;
  std::string sha256;
};

// A warning a decoder gave for a sample it still decoded (libjpeg's "Corrupt JPEG
// data: ..."): the sample is kept, as libjpeg keeps it, unless --strict.
struct DecoderWarning {
  std::string id, file, warning;
};

struct BuildResult {
  std::array<std::size_t, 3> counts{};    // written samples per split
  std::vector<Problem> skipped;           // inputs recorded and left out (--on-error skip)
  std::vector<Problem> dropped;           // samples the recipe leaves out (SampleDropped)
  std::vector<DecoderWarning> decoder_warnings;  // kept samples whose decoder warned
  std::vector<OutputFile> outputs;
  std::vector<std::string> warnings;
};

class BuildInterrupted : public std::runtime_error {
 public:
  BuildInterrupted() : std::runtime_error("interrupted; no output was written") {}
};

// Throws InputError (with --on-error fail) naming the first bad input, or
// BuildInterrupted on SIGINT/SIGTERM. Either way no .npz is left behind.
BuildResult build_dataset(const Converter& converter, const Manifest& manifest, const BuildOptions& options);

// Several datasets of one converter in a single pass over the source (each
// unit read once): manifests are the requested datasets, results come back in
// the same order.
std::vector<BuildResult> build_datasets(const Converter& converter, const std::vector<Manifest>& manifests,
                                        const BuildOptions& options);

// Enumerates the requested datasets of a converter: samples of datasets not
// asked for are dropped; Sample::dataset still indexes converter.flags().
Enumeration enumerate_requested(const Converter& converter, const std::vector<const Manifest*>& requested,
                                const std::filesystem::path& source);

// "chestmnist.npz" for 28, "chestmnist_64.npz" otherwise (medmnist's naming).
std::string npz_file_name(const std::string& flag, int size);
std::vector<std::size_t> item_shape(const Manifest& manifest, int size);

}  // namespace mmb
