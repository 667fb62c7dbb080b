// The build: one parallel pass over the samples, every size (and every
// dataset of a multi-dataset source) written at once.
#include "common/pipeline/build.h"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <opencv2/core.hpp>
#include <optional>

#include "common/core/version.h"
#include "common/io/files.h"
#include "common/pipeline/dataset_writer.h"
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

// One requested dataset of the pass.
struct Job {
  const Manifest* manifest;
  std::vector<int> sizes;
  std::unique_ptr<DatasetWriter> writer;
  BuildResult result;
};

// A run of consecutive samples sharing a unit: the pipeline's work item.
struct Run {
  std::size_t first = 0, count = 0;
};

struct Rendered {
  std::vector<Image> images;
  std::optional<Problem> error;
  std::optional<Problem> dropped;
};

struct Processed {
  Run run;
  std::vector<Rendered> samples;
};

void check_label(const Sample& s, const Manifest& m) {
  const bool multi = m.label_width > 1;
  bool ok = s.label.size() == m.label_width;
  for (auto v : s.label) ok = ok && (multi ? v <= 1 : v < m.labels.size());
  if (!ok) throw std::logic_error(m.flag + ": converter produced an invalid label for " + s.id);
}

std::vector<Run> units_in_order(const std::vector<Sample>& samples) {
  std::vector<Run> runs;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const bool joins = !runs.empty() && !samples[i].unit.empty() && samples[i].unit == samples[i - 1].unit;
    if (joins) ++runs.back().count;
    else runs.push_back({i, 1});
  }
  return runs;
}

Problem problem_of(const InputError& e, const fs::path& root) { return {display_path(e.path(), root), e.reason()}; }

Rendered render_one(const Converter& c, const Job& job, const Sample& s, const UnitData* unit, const fs::path& root) {
  Rendered out;
  try {
    out.images = c.render(s, *job.manifest, job.sizes, unit);
    for (const auto& img : out.images)
      if (job.manifest->dim == 2 && img.depth != 1) throw InputError(s.path, "expected a 2D image, got a volume");
  } catch (const SampleDropped& e) {
    out.dropped = Problem{s.id, e.what()};
  } catch (const InputError& e) {
    out.error = problem_of(e, root);
  } catch (const std::invalid_argument& e) {  // an op refused this sample (e.g. crop too large)
    out.error = Problem{display_path(s.path, root), e.what()};
  }
  return out;
}

Processed process_run(const Converter& c, const std::vector<Job*>& jobs, const std::vector<Sample>& samples, Run run,
                      const fs::path& root) {
  Processed p{run, std::vector<Rendered>(run.count)};
  const Sample& first = samples[run.first];
  std::unique_ptr<UnitData> unit;
  try {
    if (!first.unit.empty()) unit = c.read_unit(first, *jobs[first.dataset]->manifest);
  } catch (const InputError& e) {
    for (auto& r : p.samples) r.error = problem_of(e, root);
    return p;
  }
  for (std::size_t k = 0; k < run.count; ++k) {
    const Sample& s = samples[run.first + k];
    p.samples[k] = render_one(c, *jobs[s.dataset], s, unit.get(), root);
  }
  return p;
}

nlohmann::ordered_json sidecar_json(const Job& job, const BuildOptions& o, const SplitPlan& plan, int size,
                                    const std::string& sha) {
  const Manifest& m = *job.manifest;
  const BuildResult& r = job.result;
  nlohmann::ordered_json doc;
  doc["tool"] = {{"name", "medmnist-build"}, {"version", MMB_VERSION}, {"git_commit", git_commit()}};
  doc["dataset"] = m.flag;
  doc["size"] = size;
  doc["file"] = npz_file_name(m.flag, size);
  doc["sha256"] = sha;
  doc["manifest"] = {{"file", m.file.filename().string()}, {"content", nlohmann::ordered_json::parse(m.to_json())}};
  doc["parameters"] = {{"source", o.source.string()},
                       {"sizes", job.sizes},
                       {"compress", o.compress},
                       {"on_error", o.on_error == OnError::Fail ? "fail" : "skip"},
                       {"index_map", o.index_map ? o.index_map->string() : ""},
                       {"split_rule", plan.rule}};
  doc["counts"] = {{"train", r.counts[0]}, {"val", r.counts[1]}, {"test", r.counts[2]}};
  doc["official_counts"] = {{"train", m.official_counts[0]}, {"val", m.official_counts[1]}, {"test", m.official_counts[2]}};
  auto& ids = doc["source_ids"];
  for (Split s : kSplits) ids[split_name(s)] = job.writer->ids()[static_cast<int>(s)];
  auto& skipped = doc["skipped"] = nlohmann::ordered_json::array();
  for (const auto& p : r.skipped) skipped.push_back({{"input", p.where}, {"reason", p.reason}});
  auto& dropped = doc["dropped_by_recipe"] = nlohmann::ordered_json::array();
  for (const auto& p : r.dropped) dropped.push_back({{"sample", p.where}, {"reason", p.reason}});
  doc["dropped_by_split_rule"] = plan.dropped;
  doc["named_but_missing"] = plan.not_in_source;
  doc["warnings"] = r.warnings;
  return doc;
}

void record_enumeration_problems(const Enumeration& e, OnError on_error, std::vector<Job>& jobs) {
  if (on_error == OnError::Fail) {
    if (!e.problems.empty()) throw InputError(e.problems.front().where, e.problems.front().reason);
    if (!e.missing.empty()) throw InputError(e.missing.front(), "listed by the label file but missing on disk");
  }
  for (auto& job : jobs) {
    auto& r = job.result;
    r.skipped.insert(r.skipped.end(), e.problems.begin(), e.problems.end());
    for (const auto& id : e.missing) r.skipped.push_back({id, "listed by the label file but missing on disk"});
    r.warnings.insert(r.warnings.end(), e.notes.begin(), e.notes.end());
  }
}

class Pass {
 public:
  Pass(const Converter& c, std::vector<Job*> by_dataset, const BuildOptions& o, const std::vector<Sample>& samples)
      : c_(c), jobs_(std::move(by_dataset)), o_(o), samples_(samples), runs_(units_in_order(samples)) {}

  void run() {
    const int threads = o_.threads > 0 ? o_.threads : tbb::this_task_arena::max_concurrency();
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    cv::setNumThreads(1);  // parallelism comes from the pipeline, not from inside OpenCV
    Progress progress(jobs_label(), samples_.size(), o_.progress);
    tbb::parallel_pipeline(
        static_cast<std::size_t>(4 * threads),
        tbb::make_filter<void, Run>(tbb::filter_mode::serial_in_order, [&](tbb::flow_control& fc) { return next(fc); }) &
            tbb::make_filter<Run, Processed>(tbb::filter_mode::parallel,
                                             [&](Run r) { return process_run(c_, jobs_, samples_, r, o_.source); }) &
            tbb::make_filter<Processed, void>(tbb::filter_mode::serial_in_order, [&](Processed p) {
              write(p);
              progress.update(done_);
            }));
    progress.finish(done_);
    if (g_interrupted) throw BuildInterrupted();
    if (fatal_) throw InputError(fatal_->where, fatal_->reason);
  }

 private:
  Run next(tbb::flow_control& fc) {
    if (next_ == runs_.size() || g_interrupted || fatal_) {
      fc.stop();
      return {};
    }
    return runs_[next_++];
  }

  void write(const Processed& p) {
    for (std::size_t k = 0; k < p.samples.size(); ++k) {
      const Sample& s = samples_[p.run.first + k];
      Job& job = *jobs_[s.dataset];
      const Rendered& r = p.samples[k];
      ++done_;
      if (r.dropped) {
        job.result.dropped.push_back(*r.dropped);
      } else if (r.error) {
        if (o_.on_error == OnError::Fail && !fatal_) fatal_ = r.error;
        job.result.skipped.push_back(*r.error);
      } else if (!fatal_) {
        job.writer->add(s, r.images);
        ++job.result.counts[static_cast<int>(s.split)];
      }
    }
  }

  std::string jobs_label() const {
    std::string label;
    for (const Job* j : jobs_)
      if (j && label.find(j->manifest->flag) == std::string::npos) label += (label.empty() ? "" : "+") + j->manifest->flag;
    return label;
  }

  const Converter& c_;
  std::vector<Job*> jobs_;
  const BuildOptions& o_;
  const std::vector<Sample>& samples_;
  std::vector<Run> runs_;
  std::size_t next_ = 0, done_ = 0;
  std::optional<Problem> fatal_;
};

std::vector<int> sizes_for(const Manifest& m, const std::vector<int>& requested, bool several) {
  if (requested.empty()) return m.sizes;
  std::vector<int> sizes;
  for (int s : requested) {
    const bool available = std::find(m.sizes.begin(), m.sizes.end(), s) != m.sizes.end();
    if (available) sizes.push_back(s);
    else if (!several) throw std::invalid_argument(m.flag + " has no size " + std::to_string(s));
  }
  if (sizes.empty()) throw std::invalid_argument(m.flag + " has none of the requested sizes");
  return sizes;
}

void warn_about_counts(Job& job) {
  const Manifest& m = *job.manifest;
  for (int i = 0; i < 3; ++i)
    if (job.result.counts[i] != m.official_counts[i])
      job.result.warnings.push_back(std::string(split_name(kSplits[i])) + ": " + std::to_string(job.result.counts[i]) +
                                    " samples, MedMNIST has " + std::to_string(m.official_counts[i]) +
                                    " (the medmnist loader asserts the official count)");
}

void commit(Job& job, const BuildOptions& o, const SplitPlan& plan) {
  warn_about_counts(job);
  const auto files = job.writer->commit();
  for (std::size_t i = 0; i < files.size(); ++i) {
    OutputFile out{job.sizes[i], files[i], files[i], sha256_file(files[i])};
    out.sidecar.replace_extension(".json");
    write_json_atomically(out.sidecar, sidecar_json(job, o, plan, out.size, out.sha256));
    job.result.outputs.push_back(out);
  }
}

std::vector<const Manifest*> by_dataset_index(const Converter& c, const std::vector<Manifest>& manifests) {
  const auto flags = c.flags();
  std::vector<const Manifest*> out(flags.size(), nullptr);
  for (const auto& m : manifests) {
    auto it = std::find(flags.begin(), flags.end(), m.flag);
    if (it == flags.end()) throw std::invalid_argument(c.flag() + " does not produce " + m.flag);
    out[it - flags.begin()] = &m;
  }
  return out;
}

}  // namespace

Enumeration enumerate_requested(const Converter& c, const std::vector<const Manifest*>& requested,
                                const fs::path& source) {
  Enumeration e = c.enumerate_all(source, requested);
  std::erase_if(e.samples, [&](const Sample& s) {
    return s.dataset < 0 || s.dataset >= static_cast<int>(requested.size()) || !requested[s.dataset];
  });
  for (const auto& s : e.samples) check_label(s, *requested[s.dataset]);
  return e;
}

std::vector<BuildResult> build_datasets(const Converter& c, const std::vector<Manifest>& manifests,
                                        const BuildOptions& o) {
  if (manifests.empty()) throw std::invalid_argument("no dataset to build");
  if (o.index_map && manifests.size() > 1)
    throw std::invalid_argument("--index-map applies to one dataset; build the datasets one by one");
  const auto requested = by_dataset_index(c, manifests);
  SignalGuard signals;
  std::vector<Job> jobs;
  for (const auto& m : manifests) jobs.push_back({&m, sizes_for(m, o.sizes, manifests.size() > 1), nullptr, {}});
  Enumeration e = enumerate_requested(c, requested, o.source);
  record_enumeration_problems(e, o.on_error, jobs);
  const SplitPlan plan = plan_splits(std::move(e), manifests.front(), o);

  fs::create_directories(o.out_dir);
  NpzOptions npz;
  npz.compress = o.compress;
  std::vector<Job*> by_dataset(requested.size(), nullptr);
  for (auto& job : jobs) {
    job.writer = std::make_unique<DatasetWriter>(*job.manifest, job.sizes, o.out_dir, npz);
    by_dataset[std::find(requested.begin(), requested.end(), job.manifest) - requested.begin()] = &job;
  }
  try {
    Pass(c, by_dataset, o, plan.samples).run();
  } catch (...) {
    for (auto& job : jobs) job.writer->abort();
    throw;
  }
  std::vector<BuildResult> results;
  for (auto& job : jobs) {
    commit(job, o, plan);
    results.push_back(std::move(job.result));
  }
  return results;
}

BuildResult build_dataset(const Converter& c, const Manifest& m, const BuildOptions& o) {
  return std::move(build_datasets(c, {m}, o).front());
}

}  // namespace mmb
