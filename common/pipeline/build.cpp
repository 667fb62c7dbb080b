// The build: one parallel pass over the samples, every size written at once.
#include "common/pipeline/build.h"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <csignal>
#include <opencv2/core.hpp>
#include <optional>

#include "common/io/files.h"
#include "common/pipeline/dataset_writer.h"
#include "common/pipeline/preprocess.h"
#include "common/pipeline/progress.h"
#include "common/pipeline/sidecar.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_signal(int) { g_interrupted = true; }

// Installs SIGINT/SIGTERM handlers for the duration of a build, so Ctrl-C
// stops the pipeline and the temporary files are removed.
class SignalGuard {
 public:
  SignalGuard() {
    g_interrupted = false;
    old_int_ = std::signal(SIGINT, on_signal);
    old_term_ = std::signal(SIGTERM, on_signal);
  }
  ~SignalGuard() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

struct Processed {
  std::size_t index = 0;
  std::vector<Image> images;
  std::optional<Problem> error;
};

void check_label(const Sample& s, const Manifest& m) {
  const bool multi = m.label_width > 1;
  bool ok = s.label.size() == m.label_width;
  for (auto v : s.label) ok = ok && (multi ? v <= 1 : v < m.labels.size());
  if (!ok) throw std::logic_error(m.flag + ": converter produced an invalid label for " + s.id);
}

Processed process(const Converter& c, const Manifest& m, const PreprocessParams& params,
                  const std::vector<int>& sizes, const Sample& s, std::size_t index, const fs::path& root) {
  Processed out;
  out.index = index;
  try {
    Image loaded = c.load(s, m);
    if (m.dim == 2 && loaded.depth != 1) throw InputError(s.path, "expected a 2D image, got a volume");
    out.images = preprocess(loaded, params, sizes);
  } catch (const InputError& e) {
    out.error = Problem{display_path(e.path(), root), e.reason()};
  } catch (const std::invalid_argument& e) {  // an op refused this sample (e.g. crop too large)
    out.error = Problem{display_path(s.path, root), e.what()};
  }
  return out;
}

nlohmann::ordered_json sidecar_json(const Manifest& m, const BuildOptions& o, const SplitPlan& plan,
                                    const BuildResult& r, const DatasetWriter& w, int size,
                                    const std::string& sha) {
  nlohmann::ordered_json doc;
  doc["tool"] = {{"name", "medmnist-build"}, {"version", MMB_VERSION}};
  doc["dataset"] = m.flag;
  doc["size"] = size;
  doc["file"] = npz_file_name(m.flag, size);
  doc["sha256"] = sha;
  doc["manifest"] = {{"file", m.file.filename().string()}, {"content", nlohmann::ordered_json::parse(m.to_json())}};
  doc["parameters"] = {{"source", o.source.string()},
                       {"sizes", o.sizes},
                       {"compress", o.compress},
                       {"on_error", o.on_error == OnError::Fail ? "fail" : "skip"},
                       {"index_map", o.index_map ? o.index_map->string() : ""},
                       {"split_rule", plan.rule}};
  doc["counts"] = {{"train", r.counts[0]}, {"val", r.counts[1]}, {"test", r.counts[2]}};
  doc["official_counts"] = {{"train", m.official_counts[0]}, {"val", m.official_counts[1]}, {"test", m.official_counts[2]}};
  auto& ids = doc["source_ids"];
  for (Split s : kSplits) ids[split_name(s)] = w.ids()[static_cast<int>(s)];
  auto& skipped = doc["skipped"] = nlohmann::ordered_json::array();
  for (const auto& p : r.skipped) skipped.push_back({{"input", p.where}, {"reason", p.reason}});
  doc["dropped_by_split_rule"] = plan.dropped;
  doc["named_but_missing"] = plan.not_in_source;
  doc["warnings"] = r.warnings;
  return doc;
}

void record_enumeration_problems(const Enumeration& e, OnError on_error, BuildResult& r) {
  if (on_error == OnError::Fail) {
    if (!e.problems.empty()) throw InputError(e.problems.front().where, e.problems.front().reason);
    if (!e.missing.empty()) throw InputError(e.missing.front(), "listed by the label file but missing on disk");
  }
  r.skipped.insert(r.skipped.end(), e.problems.begin(), e.problems.end());
  for (const auto& id : e.missing) r.skipped.push_back({id, "listed by the label file but missing on disk"});
  r.warnings.insert(r.warnings.end(), e.notes.begin(), e.notes.end());
}

void run_pipeline(const Converter& c, const Manifest& m, const BuildOptions& o, const std::vector<Sample>& samples,
                  const std::vector<int>& sizes, DatasetWriter& writer, BuildResult& r) {
  const PreprocessParams params = preprocess_params(m);
  const int threads = o.threads > 0 ? o.threads : tbb::this_task_arena::max_concurrency();
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  cv::setNumThreads(1);  // parallelism comes from the pipeline, not from inside OpenCV
  Progress progress(m.flag, samples.size(), o.progress);
  std::size_t next = 0, done = 0;
  std::optional<Problem> fatal;
  tbb::parallel_pipeline(
      static_cast<std::size_t>(4 * threads),
      tbb::make_filter<void, std::size_t>(tbb::filter_mode::serial_in_order,
                                          [&](tbb::flow_control& fc) -> std::size_t {
                                            if (next == samples.size() || g_interrupted || fatal) {
                                              fc.stop();
                                              return 0;
                                            }
                                            return next++;
                                          }) &
          tbb::make_filter<std::size_t, Processed>(
              tbb::filter_mode::parallel,
              [&](std::size_t i) { return process(c, m, params, sizes, samples[i], i, o.source); }) &
          tbb::make_filter<Processed, void>(tbb::filter_mode::serial_in_order, [&](Processed p) {
            ++done;
            if (p.error) {
              if (o.on_error == OnError::Fail && !fatal) fatal = p.error;
              r.skipped.push_back(*p.error);
            } else if (!fatal) {
              writer.add(samples[p.index], p.images);
              ++r.counts[static_cast<int>(samples[p.index].split)];
            }
            progress.update(done);
          }));
  progress.finish(done);
  if (g_interrupted) throw BuildInterrupted();
  if (fatal) throw InputError(fatal->where, fatal->reason);
}

}  // namespace

BuildResult build_dataset(const Converter& c, const Manifest& m, const BuildOptions& options) {
  BuildOptions o = options;
  if (o.sizes.empty()) o.sizes = m.sizes;
  for (int s : o.sizes)
    if (std::find(m.sizes.begin(), m.sizes.end(), s) == m.sizes.end())
      throw std::invalid_argument(m.flag + " has no size " + std::to_string(s));
  SignalGuard signals;
  BuildResult r;
  Enumeration e = c.enumerate(o.source, m);
  for (const auto& s : e.samples) check_label(s, m);
  record_enumeration_problems(e, o.on_error, r);
  SplitPlan plan = plan_splits(std::move(e), m, o);

  fs::create_directories(o.out_dir);
  NpzOptions npz;
  npz.compress = o.compress;
  DatasetWriter writer(m, o.sizes, o.out_dir, npz);
  try {
    run_pipeline(c, m, o, plan.samples, o.sizes, writer, r);
  } catch (...) {
    writer.abort();
    throw;
  }
  for (int i = 0; i < 3; ++i)
    if (r.counts[i] != m.official_counts[i])
      r.warnings.push_back(std::string(split_name(kSplits[i])) + ": " + std::to_string(r.counts[i]) +
                           " samples, MedMNIST has " + std::to_string(m.official_counts[i]) +
                           " (the medmnist loader asserts the official count)");
  const auto files = writer.commit();
  for (std::size_t i = 0; i < files.size(); ++i) {
    OutputFile out{o.sizes[i], files[i], files[i], sha256_file(files[i])};
    out.sidecar.replace_extension(".json");
    write_json_atomically(out.sidecar, sidecar_json(m, o, plan, r, writer, out.size, out.sha256));
    r.outputs.push_back(out);
  }
  return r;
}

}  // namespace mmb
