// The build: one parallel pass over the samples, every size (and every
// dataset of a multi-dataset source) written at once.
#include "common/pipeline/build.h"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <iostream>
#include <opencv2/core.hpp>
#include <optional>

#include "common/core/allocator.h"
#include "common/core/decoder_warnings.h"
#include "common/core/version.h"
#include "common/io/files.h"
#include "common/pipeline/build_steps.h"
#include "common/pipeline/dataset_writer.h"
#include "common/pipeline/output_commit.h"
#include "common/pipeline/progress.h"
#include "common/pipeline/settings.h"
#include "common/pipeline/sidecar.h"
#include "common/pipeline/unit_budget.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_signal(int) { g_interrupted = true; }

using steps::Job;

// A run of consecutive samples sharing a unit: the pipeline's work item.
struct Run {
  std::size_t first = 0, count = 0;
};

struct Rendered {
  std::vector<Image> images;
  std::optional<Problem> error;
  std::optional<Problem> dropped;
  std::vector<std::string> decoder_warnings;
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

Rendered render_one(const Converter& c, const Job& job, const Sample& s, const UnitData* unit, const BuildOptions& o) {
  const fs::path& root = o.source;
  Rendered out;
  decoder_warnings_of_this_thread().clear();
  try {
    // Isolated: while a nested parallel loop (a resize) waits, this thread must not pick up
    // another sample's render, which would clear this sample's thread-local warnings
    // (oneTBB's documented use of isolate() for thread-local state).
    tbb::this_task_arena::isolate([&] { out.images = c.render(s, *job.manifest, job.sizes, unit); });
    out.decoder_warnings = std::move(decoder_warnings_of_this_thread());
    // --strict: a file the decoder had to repair is not trusted (default: kept, as libjpeg keeps it).
    if (o.strict && !out.decoder_warnings.empty())
      throw InputError(s.path, out.decoder_warnings.front() + " (a decoder warning; without --strict the sample is kept)");
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
                      const BuildOptions& o, UnitBudget& budget) {
  const fs::path& root = o.source;
  Processed p{run, std::vector<Rendered>(run.count)};
  const Sample& first = samples[run.first];
  std::optional<UnitBudget::Lease> lease;  // declared before unit: released after the unit is freed
  std::unique_ptr<UnitData> unit;
  try {
    if (!first.unit.empty()) {
      lease.emplace(budget.acquire());
      const std::size_t before = unit_bytes_read_by_this_thread();
      unit = c.read_unit(first, *jobs[first.dataset]->manifest);
      budget.measured(*lease, unit_bytes_read_by_this_thread() - before);
    }
  } catch (const InputError& e) {
    for (auto& r : p.samples) r.error = problem_of(e, root);
    return p;
  }
  for (std::size_t k = 0; k < run.count; ++k) {
    const Sample& s = samples[run.first + k];
    p.samples[k] = render_one(c, *jobs[s.dataset], s, unit.get(), o);
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
  doc["split"] = {{"rule", plan.rule},
                  {"method", plan.method.empty() ? "index map" : plan.method},
                  {"ratios", plan.ratios},
                  {"ratios_from", plan.ratios_from},
                  {"seed", plan.seed},
                  {"seed_from", plan.seed_from},
                  {"group", plan.grouped ? "subject" : "none"},
                  {"group_from", plan.group_from}};
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
  auto& decoder = doc["decoder_warnings"] = nlohmann::ordered_json::array();
  for (const auto& w : r.decoder_warnings) decoder.push_back({{"id", w.id}, {"file", w.file}, {"warning", w.warning}});
  doc["warnings"] = r.warnings;
  if (!o.plan_hash.empty()) doc["plan_sha256"] = o.plan_hash;
  return doc;
}

}  // namespace

// Installs SIGINT/SIGTERM handlers for the duration of a build, so Ctrl-C
// stops the pipeline and the temporary files are removed.
steps::SignalScope::SignalScope() {
  g_interrupted = false;
  old_int_ = std::signal(SIGINT, on_signal);
  old_term_ = std::signal(SIGTERM, on_signal);
}

steps::SignalScope::~SignalScope() {
  std::signal(SIGINT, old_int_);
  std::signal(SIGTERM, old_term_);
}

bool steps::SignalScope::interrupted() { return g_interrupted; }

void steps::record_enumeration_problems(const Enumeration& e, OnError on_error, bool strict, std::vector<Job>& jobs) {
  if (strict && !e.quirks.empty())
    throw InputError(e.quirks.front().where, e.quirks.front().reason + " (a known source quirk; without --strict it is skipped)");
  for (auto& job : jobs) {
    job.result.skipped.insert(job.result.skipped.end(), e.quirks.begin(), e.quirks.end());
    if (!e.quirks.empty())
      job.result.warnings.push_back(std::to_string(e.quirks.size()) +
                                    " input(s) skipped for a known source quirk (listed as skipped; --strict stops instead)");
  }
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

// Ids an index map or list files name that the source lacks: with an index map each
// one would shift every later index, so they stop the build (--on-error fail) or are
// recorded as skipped; images in no list file are left out, and said so.
void steps::record_plan_problems(const SplitPlan& plan, const BuildOptions& o, std::vector<Job>& jobs) {
  const auto listed = [](const std::vector<std::string>& ids) {
    std::string text;
    for (std::size_t i = 0; i < ids.size() && i < 5; ++i) text += (i ? ", " : "") + ids[i];
    return text + (ids.size() > 5 ? ", ..." : "");
  };
  if (!o.index_map) {  // list files: both directions are worth a word, neither shifts an index
    for (auto& job : jobs) {
      if (o.split_mode == SplitMode::Lists && !plan.dropped.empty())
        job.result.warnings.push_back(std::to_string(plan.dropped.size()) + " image(s) in no list file were left out: " +
                                      listed(plan.dropped));
      if (!plan.not_in_source.empty())
        job.result.warnings.push_back(std::to_string(plan.not_in_source.size()) +
                                      " name(s) in the list files are not in the source: " + listed(plan.not_in_source));
    }
    return;
  }
  const fs::path& named_by = *o.index_map;
  if (!plan.not_in_source.empty() && o.on_error == OnError::Fail)
    throw InputError(named_by, std::to_string(plan.not_in_source.size()) + " id(s) named here are not in the source: " +
                                   listed(plan.not_in_source));
  for (auto& job : jobs)
    for (const auto& id : plan.not_in_source)
      job.result.skipped.push_back({id, "named by " + named_by.filename().string() + " but not in the source"});
}

// A configuration error (a bad kernel name, say) skips every sample; it must not end
// in empty archives with exit 0. A build that planned samples and skipped them all fails.
void steps::check_not_all_skipped(const std::vector<Job>& jobs, const SplitPlan& plan, const std::vector<const Manifest*>& requested) {
  for (const auto& job : jobs) {
    const auto planned = std::count_if(plan.samples.begin(), plan.samples.end(),
                                       [&](const Sample& s) { return requested[s.dataset] == job.manifest; });
    const auto written = job.result.counts[0] + job.result.counts[1] + job.result.counts[2];
    if (planned > 0 && written == 0 && !job.result.skipped.empty())
      throw InputError(job.result.skipped.back().where,
                       job.manifest->flag + ": every sample (" + std::to_string(planned) +
                           ") was skipped; the last reason: " + job.result.skipped.back().reason);
  }
}

namespace {

class Pass {
 public:
  Pass(const Converter& c, std::vector<Job*> by_dataset, const BuildOptions& o, const std::vector<Sample>& samples,
       std::size_t first = 0, std::size_t last = SIZE_MAX)
      : c_(c), jobs_(std::move(by_dataset)), o_(o), samples_(samples), runs_(units_in_order(samples)) {
    // A shard renders the runs in [first, last) (cut at unit boundaries, cluster.cpp).
    std::erase_if(runs_, [&](const Run& r) { return r.first < first || r.first >= last; });
  }

  void run() {
    const int threads = o_.threads > 0 ? o_.threads : tbb::this_task_arena::max_concurrency();
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    cv::setNumThreads(1);  // parallelism comes from the pipeline, not from inside OpenCV
    std::size_t total = 0;
    for (const Run& r : runs_) total += r.count;
    Progress progress(jobs_label(), total, o_.progress);
    tbb::parallel_pipeline(
        static_cast<std::size_t>(4 * threads),
        tbb::make_filter<void, Run>(tbb::filter_mode::serial_in_order, [&](tbb::flow_control& fc) { return next(fc); }) &
            // Isolated: process_run may block in budget_.acquire() and holds a lease while it
            // works; a thread waiting in a nested parallel region (the npz writer's DEFLATE tasks,
            // a converter's parallel_for) must never pick up another run's process_run, which
            // could wait for the lease its own stack holds (oneTBB's documented reason for isolate).
            tbb::make_filter<Run, Processed>(tbb::filter_mode::parallel,
                                             [&](Run r) {
                                               return tbb::this_task_arena::isolate(
                                                   [&] { return process_run(c_, jobs_, samples_, r, o_, budget_); });
                                             }) &
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
    if (next_ == runs_.size() || g_interrupted || failed_) {
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
        if (o_.on_error == OnError::Fail && !fatal_) {
          fatal_ = r.error;
          failed_ = true;  // next() runs on another thread than write()
        }
        job.result.skipped.push_back(*r.error);
      } else if (!fatal_) {
        job.writer->add(s, r.images);
        ++job.result.counts[static_cast<int>(s.split)];
        for (const auto& w : r.decoder_warnings)
          job.result.decoder_warnings.push_back({s.id, display_path(s.path, o_.source), w});
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
  std::optional<Problem> fatal_;  // only write() and, after the pipeline, run() touch it
  std::atomic<bool> failed_{false};
  UnitBudget budget_{o_.unit_memory_mb ? o_.unit_memory_mb << 20 : default_unit_memory_bytes()};
};

std::vector<int> sizes_for(const Manifest& m, const std::vector<int>& requested, bool several) {
  if (requested.empty()) return m.sizes;
  std::vector<int> sizes;
  for (std::size_t i = 0; i < requested.size(); ++i)
    if (std::find(requested.begin(), requested.begin() + i, requested[i]) != requested.begin() + i)
      throw std::invalid_argument("size " + std::to_string(requested[i]) + " is requested twice");
  for (int s : requested) {
    const bool available = std::find(m.sizes.begin(), m.sizes.end(), s) != m.sizes.end();
    if (available) sizes.push_back(s);
    else if (!several) throw std::invalid_argument(m.flag + " has no size " + std::to_string(s));
  }
  if (sizes.empty()) throw std::invalid_argument(m.flag + " has none of the requested sizes");
  return sizes;
}

void warn_about_decoder_warnings(Job& job) {
  if (const auto n = job.result.decoder_warnings.size())
    job.result.warnings.push_back(std::to_string(n) +
                                  " decoder warning(s) on samples that were kept (decoder_warnings in the sidecar; "
                                  "--strict makes them input errors)");
}

void warn_about_counts(Job& job) {
  const Manifest& m = *job.manifest;
  for (int i = 0; i < 3; ++i)
    if (job.result.counts[i] != m.official_counts[i])
      job.result.warnings.push_back(std::string(split_name(kSplits[i])) + ": " + std::to_string(job.result.counts[i]) +
                                    " samples, MedMNIST has " + std::to_string(m.official_counts[i]) +
                                    " (the medmnist loader asserts the official count)");
}

// The file's sha256 depends on the compressor and its version; each array's data hash does not
// (hashlib.sha256(np.load(f)[name].tobytes()) gives it), so two builds can be compared by content.
void record_content(nlohmann::ordered_json& doc, const NpzWriter& file) {
  nlohmann::ordered_json arrays = nlohmann::ordered_json::object();
  for (const auto& [name, sha] : file.array_sha256()) arrays[name] = sha;
  doc["array_sha256"] = arrays;
  doc["compression"] = file.compression();
}

// Every file complete and fsynced under its temp name, sidecars included,
// before the first rename (output_commit.h).
void finish(Job& job, const BuildOptions& o, const SplitPlan& plan, OutputSet& outputs) {
  warn_about_decoder_warnings(job);
  warn_about_counts(job);
  const auto files = job.writer->finish();
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& [temp, final_path] = files[i];
    OutputFile out{job.sizes[i], final_path, final_path, sha256_file(temp)};
    out.sidecar.replace_extension(".json");
    outputs.add(temp, final_path);
    const fs::path sidecar_temp = partial_path(out.sidecar);
    outputs.add_sidecar(sidecar_temp, out.sidecar);
    auto doc = sidecar_json(job, o, plan, out.size, out.sha256);
    record_content(doc, job.writer->file(i));
    write_json_durably(sidecar_temp, doc);
    job.result.outputs.push_back(out);
  }
}

}  // namespace

void steps::commit_all(std::vector<Job>& jobs, const BuildOptions& o, const SplitPlan& plan) {
  OutputSet outputs;  // removes every temp file if anything below throws
  try {
    for (auto& job : jobs) finish(job, o, plan, outputs);
  } catch (...) {
    for (auto& job : jobs) job.writer->abort();
    throw;
  }
  outputs.commit();
}

std::vector<Job> steps::make_jobs(const std::vector<Manifest>& manifests, const BuildOptions& o) {
  std::vector<Job> jobs;
  for (const auto& m : manifests) jobs.push_back({&m, sizes_for(m, o.sizes, manifests.size() > 1), nullptr, {}});
  return jobs;
}

std::vector<Job*> steps::jobs_by_dataset(std::vector<Job>& jobs, const std::vector<const Manifest*>& requested) {
  std::vector<Job*> by_dataset(requested.size(), nullptr);
  for (auto& job : jobs) by_dataset[std::find(requested.begin(), requested.end(), job.manifest) - requested.begin()] = &job;
  return by_dataset;
}

std::vector<std::size_t> steps::unit_starts(const std::vector<Sample>& samples) {
  std::vector<std::size_t> starts;
  for (const Run& r : units_in_order(samples)) starts.push_back(r.first);
  return starts;
}

void steps::render(const Converter& c, const std::vector<Job*>& by_dataset, const BuildOptions& o,
                   const std::vector<Sample>& samples, std::size_t first, std::size_t last) {
  Pass(c, by_dataset, o, samples, first, last).run();
}

std::vector<const Manifest*> steps::by_dataset_index(const Converter& c, const std::vector<Manifest>& manifests) {
  const auto flags = c.flags();
  std::vector<const Manifest*> out(flags.size(), nullptr);
  for (const auto& m : manifests) {
    auto it = std::find(flags.begin(), flags.end(), m.flag);
    if (it == flags.end()) throw std::invalid_argument(c.flag() + " does not produce " + m.flag);
    out[it - flags.begin()] = &m;
  }
  return out;
}

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
  const auto requested = steps::by_dataset_index(c, manifests);
  for (const auto& m : manifests) validate_settings(m);  // before the first sample, not blamed on it
  steps::SignalScope signals;
  std::vector<Job> jobs = steps::make_jobs(manifests, o);
  Enumeration e = enumerate_requested(c, requested, o.source);
  steps::record_enumeration_problems(e, o.on_error, o.strict, jobs);
  const SplitPlan plan = plan_splits(std::move(e), manifests.front(), o);
  steps::record_plan_problems(plan, o, jobs);

  create_output_dir(o.out_dir);
  for (const auto& line : recover_output_dir(o.out_dir)) std::cerr << "medmnist-build: " << line << "\n";
  NpzOptions npz;
  npz.compress = o.compress;
  for (auto& job : jobs) job.writer = std::make_unique<DatasetWriter>(*job.manifest, job.sizes, o.out_dir, npz);
  return steps::write_then_commit(jobs, o, plan, [&] {
    steps::render(c, steps::jobs_by_dataset(jobs, requested), o, plan.samples, 0, plan.samples.size());
    steps::check_not_all_skipped(jobs, plan, requested);
  });
}

BuildResult build_dataset(const Converter& c, const Manifest& m, const BuildOptions& o) {
  return std::move(build_datasets(c, {m}, o).front());
}

}  // namespace mmb
