#pragma once
// The steps of build_datasets() (build.cpp), shared with the cluster commands
// (cluster.cpp): a shard renders a range of a plan with the same pass, and
// merge commits with the same sidecars, so their bytes are those of a
// one-machine build. Internal to common/pipeline.
#include <memory>
#include <vector>

#include "common/pipeline/build.h"
#include "common/pipeline/dataset_writer.h"

namespace mmb::steps {

// One requested dataset of the pass.
struct Job {
  const Manifest* manifest;
  std::vector<int> sizes;
  std::unique_ptr<DatasetWriter> writer;
  BuildResult result;
};

// manifests[i] at the index of its flag in converter.flags() (nullptr elsewhere).
std::vector<const Manifest*> by_dataset_index(const Converter& converter, const std::vector<Manifest>& manifests);
std::vector<Job> make_jobs(const std::vector<Manifest>& manifests, const BuildOptions& options);
// The jobs indexed by Sample::dataset.
std::vector<Job*> jobs_by_dataset(std::vector<Job>& jobs, const std::vector<const Manifest*>& requested);
// Fails on the first problem (--on-error fail) or records them all in every job.
void record_enumeration_problems(const Enumeration& enumeration, OnError on_error, bool strict, std::vector<Job>& jobs);
// Ids an index map or list files name that the source lacks (and, for lists, images in no
// list): fails (--on-error fail with an index map) or records them in every job.
void record_plan_problems(const SplitPlan& plan, const BuildOptions& o, std::vector<Job>& jobs);
// Throws when a dataset planned samples and every one was skipped (a configuration error
// must not end in empty archives with exit 0).
void check_not_all_skipped(const std::vector<Job>& jobs, const SplitPlan& plan,
                           const std::vector<const Manifest*>& requested);

// The first sample of each unit run: a plan may only be cut there.
std::vector<std::size_t> unit_starts(const std::vector<Sample>& samples);

// Decodes and renders samples[first, last) into the jobs' writers (the TBB pass).
void render(const Converter& converter, const std::vector<Job*>& by_dataset, const BuildOptions& options,
            const std::vector<Sample>& samples, std::size_t first, std::size_t last);

// Finishes every job's files and sidecars and makes them appear together
// (output_commit.h); fills each job's result.outputs.
void commit_all(std::vector<Job>& jobs, const BuildOptions& options, const SplitPlan& plan);

// Runs `write` (a pass, or a merge of shards) into the jobs' open writers; on any
// exception every writer's temporary files are removed, else all outputs are
// committed together. Returns the jobs' results in order.
template <class Write>
std::vector<BuildResult> write_then_commit(std::vector<Job>& jobs, const BuildOptions& options, const SplitPlan& plan,
                                           Write write) {
  try {
    write();
  } catch (...) {
    for (auto& job : jobs) job.writer->abort();
    throw;
  }
  commit_all(jobs, options, plan);
  std::vector<BuildResult> results;
  for (auto& job : jobs) results.push_back(std::move(job.result));
  return results;
}

// SIGINT/SIGTERM stop the pass (BuildInterrupted) while one is alive.
class SignalScope {
 public:
  SignalScope();
  ~SignalScope();
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
  static bool interrupted();

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

}  // namespace mmb::steps
