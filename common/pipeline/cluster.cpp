#include "common/pipeline/cluster.h"

#include <openssl/evp.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iomanip>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <unordered_set>

#include <toml++/toml.h>

#include "common/npz/npz_reader.h"
#include "common/pipeline/build_steps.h"
#include "common/pipeline/json_text.h"
#include "common/pipeline/output_commit.h"
#include "common/pipeline/settings.h"
#include "common/pipeline/sidecar.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace mmb {
namespace {

constexpr const char* kPlanFormat = "medmnist-build plan 1";
constexpr const char* kShardFormat = "medmnist-build shard 1";


// ---- options and samples <-> JSON -------------------------------------------------

template <class T>
json optional_json(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json options_json(const BuildOptions& o) {
  const char* modes[] = {"source", "ratio", "lists"};
  return {{"source", o.source.string()},
          {"out", o.out_dir.string()},
          {"sizes", o.sizes},
          {"on_error", o.on_error == OnError::Fail ? "fail" : "skip"},
          {"compress", o.compress},
          {"index_map", o.index_map ? json(o.index_map->string()) : json(nullptr)},
          {"split", modes[static_cast<int>(o.split_mode)]},
          {"ratios", optional_json(o.ratios)},
          {"lists_dir", o.lists_dir.string()},
          {"group_by_subject", optional_json(o.group_by_subject)},
          {"seed", optional_json(o.seed)},
          {"strict", o.strict}};
}

BuildOptions options_from(const json& j) {
  BuildOptions o;
  o.source = j.at("source").get<std::string>();
  o.out_dir = j.at("out").get<std::string>();
  o.sizes = j.at("sizes").get<std::vector<int>>();
  o.on_error = j.at("on_error") == "skip" ? OnError::Skip : OnError::Fail;
  o.compress = j.at("compress").get<bool>();
  if (!j.at("index_map").is_null()) o.index_map = fs::path(j["index_map"].get<std::string>());
  const auto mode = j.at("split").get<std::string>();
  o.split_mode = mode == "ratio" ? SplitMode::Ratio : mode == "lists" ? SplitMode::Lists : SplitMode::Source;
  if (!j.at("ratios").is_null()) o.ratios = j["ratios"].get<std::array<double, 3>>();
  o.lists_dir = j.at("lists_dir").get<std::string>();
  if (!j.at("group_by_subject").is_null()) o.group_by_subject = j["group_by_subject"].get<bool>();
  if (!j.at("seed").is_null()) o.seed = j["seed"].get<std::uint64_t>();
  o.strict = j.at("strict").get<bool>();
  return o;
}

json problems_json(const std::vector<Problem>& problems) {
  json a = json::array();
  for (const auto& p : problems) a.push_back({p.where, p.reason});
  return a;
}

json decoder_warnings_json(const std::vector<DecoderWarning>& warnings) {
  json a = json::array();
  for (const auto& w : warnings) a.push_back({{"id", w.id}, {"file", w.file}, {"warning", w.warning}});
  return a;
}

std::vector<Problem> problems_from(const json& a) {
  std::vector<Problem> out;
  for (const auto& p : a) out.push_back({p.at(0).get<std::string>(), p.at(1).get<std::string>()});
  return out;
}

// One compact row per sample: id, subject, label, split, path, aux, unit, dataset, bytes.
json sample_json(const Sample& s, std::uint64_t bytes) {
  return json::array({s.id, s.subject, s.label, static_cast<int>(s.split), s.path.string(), s.aux, s.unit, s.dataset,
                      bytes});
}

Sample sample_from(const json& r, std::uint64_t& bytes) {
  Sample s;
  s.id = r.at(0).get<std::string>();
  s.subject = r.at(1).get<std::string>();
  s.label = r.at(2).get<std::vector<std::uint8_t>>();
  s.split = static_cast<Split>(r.at(3).get<int>());
  s.path = r.at(4).get<std::string>();
  s.aux = r.at(5).get<std::int64_t>();
  s.unit = r.at(6).get<std::string>();
  s.dataset = r.at(7).get<int>();
  bytes = r.at(8).get<std::uint64_t>();
  return s;
}

json plan_json(const Plan& p) {
  json doc;
  doc["format"] = kPlanFormat;
  doc["tool"] = {{"name", "medmnist-build"}, {"version", p.tool_version}};
  doc["converter"] = p.converter;
  doc["datasets"] = p.datasets;
  doc["manifests"] = {{"dir", p.manifest_source.dir.string()},
                      {"overrides", p.manifest_source.overrides},
                      {"content", p.manifest_content}};
  doc["options"] = options_json(p.options);
  doc["split"] = {{"rule", p.split.rule},         {"dropped", p.split.dropped},
                  {"not_in_source", p.split.not_in_source},
                  {"method", p.split.method},     {"ratios", p.split.ratios},
                  {"seed", p.split.seed},         {"seed_from", p.split.seed_from},
                  {"group_from", p.split.group_from}, {"ratios_from", p.split.ratios_from},
                  {"grouped", p.split.grouped}};
  doc["enumeration"] = {{"problems", problems_json(p.enumeration.problems)},
                        {"missing", p.enumeration.missing},
                        {"notes", p.enumeration.notes},
                        {"quirks", problems_json(p.enumeration.quirks)}};
  std::uint64_t total = 0;
  for (auto b : p.source_bytes) total += b;
  doc["totals"] = {{"samples", p.split.samples.size()},
                   {"units", steps::unit_starts(p.split.samples).size()},
                   {"source_bytes", total}};
  auto& rows = doc["samples"] = json::array();
  for (std::size_t i = 0; i < p.split.samples.size(); ++i) rows.push_back(sample_json(p.split.samples[i], p.source_bytes[i]));
  return doc;
}

json read_json_file(const fs::path& file, const char* what) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot open the " + what);
  json doc = json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw std::runtime_error(file.string() + ": not a " + what + " (bad JSON)");
  return doc;
}

// ---- shards ---------------------------------------------------------------------

// The weight of each unit run: the bytes of the distinct source files it reads,
// plus one per sample so empty or missing files still count.
std::vector<std::uint64_t> run_weights(const Plan& p, const std::vector<std::size_t>& starts) {
  std::vector<std::uint64_t> w;
  const auto& samples = p.split.samples;
  for (std::size_t j = 0; j < starts.size(); ++j) {
    const std::size_t end = j + 1 < starts.size() ? starts[j + 1] : samples.size();
    std::unordered_set<std::string> seen;
    std::uint64_t bytes = 0;
    for (std::size_t i = starts[j]; i < end; ++i)
      if (seen.insert(samples[i].path.string()).second) bytes += p.source_bytes[i];
    w.push_back(bytes + (end - starts[j]));
  }
  return w;
}

struct ShardRecord {
  fs::path file;
  ShardIndex shard;
  SampleRange range;
  json doc;
};

std::string shard_label(const ShardRecord& r) { return r.file.filename().string(); }

std::vector<ShardRecord> find_shards(const Plan& plan, const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw std::runtime_error(dir.string() + ": no shard folder; run 'build --plan ... --shard i/n' for every shard first");
  std::vector<ShardRecord> found;
  std::vector<std::string> foreign;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name.find(".partial-") != std::string::npos) continue;
    const json doc = read_json_file(entry.path(), "shard record");
    if (doc.value("format", "") != kShardFormat) {
      foreign.push_back(name + " (not a shard record)");
      continue;
    }
    if (doc.value("plan", "") != plan.hash) {
      foreign.push_back(name + " (made from plan " + doc.value("plan", "?").substr(0, 12) + ", not " +
                        plan.hash.substr(0, 12) + ")");
      continue;
    }
    if (doc["tool"].value("version", "") != plan.tool_version) {
      foreign.push_back(name + " (made by medmnist-build " + doc["tool"].value("version", "?") + ", the plan by " +
                        plan.tool_version + ")");
      continue;
    }
    ShardRecord r{entry.path(), {doc["shard"].get<int>(), doc["of"].get<int>()},
                  {doc["samples"].at(0).get<std::size_t>(), doc["samples"].at(1).get<std::size_t>()}, doc};
    found.push_back(std::move(r));
  }
  if (!foreign.empty()) {
    std::string list;
    for (const auto& f : foreign) list += "\n  " + f;
    throw std::runtime_error(dir.string() + ": foreign shard files, not of this plan:" + list +
                             "\nremove them (or use another --shard-dir) and merge again");
  }
  if (found.empty()) throw std::runtime_error(dir.string() + ": no shard of this plan; run the shards first");
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::tie(a.shard.count, a.shard.index, a.file) < std::tie(b.shard.count, b.shard.index, b.file);
  });
  // The count most shards have is the run's; the others are leftovers of another run.
  std::map<int, int> counts;
  for (const auto& r : found) ++counts[r.shard.count];
  const int n = std::max_element(counts.begin(), counts.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  std::string problems;
  for (const auto& r : found)
    if (r.shard.count != n)
      problems += "\n  " + shard_label(r) + " is shard " + std::to_string(r.shard.index) + " of " +
                  std::to_string(r.shard.count) + ", others are of " + std::to_string(n);
  std::vector<std::vector<const ShardRecord*>> by_index(static_cast<std::size_t>(n));
  for (const auto& r : found)
    if (r.shard.count == n && r.shard.index >= 0 && r.shard.index < n) by_index[r.shard.index].push_back(&r);
  std::vector<ShardRecord> ordered;
  for (int k = 0; k < n; ++k) {
    const auto& at = by_index[k];
    const std::string expected = shard_name({k, n});
    if (at.empty()) {
      const auto range = shard_range(plan, {k, n});
      problems += "\n  missing " + expected + ".json (samples " + std::to_string(range.first) + "-" +
                  std::to_string(range.last) + "): run 'build --plan ... --shard " + std::to_string(k) + "/" +
                  std::to_string(n) + "'";
    } else if (at.size() > 1) {
      problems += "\n  duplicated shard " + std::to_string(k) + "/" + std::to_string(n) + ":";
      for (const auto* r : at) problems += " " + shard_label(*r);
    } else {
      const auto range = shard_range(plan, {k, n});
      if (at.front()->range.first != range.first || at.front()->range.last != range.last)
        problems += "\n  " + shard_label(*at.front()) + " covers samples " + std::to_string(at.front()->range.first) +
                    "-" + std::to_string(at.front()->range.last) + ", the plan gives that shard " +
                    std::to_string(range.first) + "-" + std::to_string(range.last);
      ordered.push_back(*at.front());
    }
  }
  if (!problems.empty())
    throw std::runtime_error(dir.string() + ": the shards do not cover the plan exactly:" + problems);
  return ordered;
}

class ThreadLimit {
 public:
  explicit ThreadLimit(int threads)
      : limit_(tbb::global_control::max_allowed_parallelism,
               static_cast<std::size_t>(threads > 0 ? threads : tbb::this_task_arena::max_concurrency())) {}

 private:
  tbb::global_control limit_;
};

// Feeds one shard's samples of one dataset into the final writer, in plan order.
void merge_dataset_shard(const Plan& plan, const ShardRecord& record, int dataset, steps::Job& job) {
  const json& d = record.doc["datasets"].at(job.manifest->flag);
  const auto ids = d.at("ids").get<std::vector<std::string>>();
  std::vector<std::unique_ptr<NpzArrayStream>> streams;
  std::vector<Image> images;
  for (int size : job.sizes) {
    const fs::path file = record.file.parent_path() / d.at("files").at(std::to_string(size)).get<std::string>();
    streams.push_back(std::make_unique<NpzArrayStream>(file, "images"));
    const auto shape = item_shape(*job.manifest, size);
    std::vector<std::size_t> expected{ids.size()};
    expected.insert(expected.end(), shape.begin(), shape.end());
    if (streams.back()->shape() != expected)
      throw std::runtime_error(file.string() + ": its images do not match " + shard_label(record) + " (" +
                               std::to_string(ids.size()) + " samples)");
    std::size_t bytes = 1;
    for (auto s : shape) bytes *= s;
    images.emplace_back(static_cast<int>(bytes), 1, 1, 1);
  }
  std::size_t next = 0;
  for (std::size_t i = record.range.first; i < record.range.last; ++i) {
    const Sample& s = plan.split.samples[i];
    if (s.dataset != dataset || next == ids.size() || ids[next] != s.id) continue;
    for (std::size_t k = 0; k < streams.size(); ++k) streams[k]->read(images[k].pixels.data(), images[k].pixels.size());
    job.writer->add(s, images);
    ++job.result.counts[static_cast<int>(s.split)];
    ++next;
  }
  if (next != ids.size())
    throw std::runtime_error(record.file.string() + ": sample '" + ids[next] + "' of " + job.manifest->flag +
                             " is not in this shard's part of the plan");
  for (auto& stream : streams) stream->finish();
  auto skipped = problems_from(d.at("skipped")), dropped = problems_from(d.at("dropped"));
  job.result.skipped.insert(job.result.skipped.end(), skipped.begin(), skipped.end());
  job.result.dropped.insert(job.result.dropped.end(), dropped.begin(), dropped.end());
  for (const auto& w : d.value("decoder_warnings", json::array()))
    job.result.decoder_warnings.push_back(
        {w.at("id").get<std::string>(), w.at("file").get<std::string>(), w.at("warning").get<std::string>()});
}

// The synapsemnist3d converter opens its volumes in enumerate() and render()
// finds them there (converters/synapsemnist3d.cpp, `opened`); there is no
// other hook to open them, so its shards enumerate again (a CSV and the
// volume headers: cheap). Other converters render from the plan alone.
void prepare_converter(const Converter& c, const Plan& plan, const std::vector<const Manifest*>& requested) {
  if (c.flag() == "synapsemnist3d") (void)c.enumerate_all(plan.options.source, requested);
}

}  // namespace

std::vector<Manifest> Plan::load_manifests() const {
  std::vector<Manifest> out;
  for (const auto& flag : datasets) {
    Manifest m = manifest_source.dir.empty() ? load_manifest_for(flag) : load_manifest_for(flag, manifest_source.dir);
    for (const auto& o : manifest_source.overrides) m.apply_override(o);
    if (json::parse(m.to_json()) != manifest_content.at(flag))
      throw std::runtime_error(m.file.string() + ": the manifest changed since the plan was made; plan again");
    out.push_back(std::move(m));
  }
  return out;
}

Plan make_plan(const Converter& c, const std::vector<Manifest>& manifests, const BuildOptions& o,
               const ManifestSource& source) {
  if (manifests.empty()) throw std::invalid_argument("no dataset to plan");
  if (o.index_map && manifests.size() > 1)
    throw std::invalid_argument("--index-map applies to one dataset; plan the datasets one by one");
  const auto requested = steps::by_dataset_index(c, manifests);
  for (const auto& m : manifests) validate_settings(m);  // in the plan, not in n shards at their first sample
  auto jobs = steps::make_jobs(manifests, o);  // checks --sizes against every dataset now, not in the shards
  Plan p;
  p.tool_version = MMB_VERSION;
  p.converter = c.flag();
  p.manifest_source = source;
  for (const auto& m : manifests) {
    p.datasets.push_back(m.flag);
    p.manifest_content[m.flag] = json::parse(m.to_json());
  }
  p.options = o;
  Enumeration e = enumerate_requested(c, requested, o.source);
  steps::record_enumeration_problems(e, o.on_error, o.strict, jobs);  // throws with --on-error fail
  p.enumeration.problems = e.problems;
  p.enumeration.missing = e.missing;
  p.enumeration.notes = e.notes;
  p.enumeration.quirks = e.quirks;
  p.split = plan_splits(std::move(e), manifests.front(), o);
  steps::record_plan_problems(p.split, o, jobs);  // throws with --on-error fail and an index map
  for (const auto& s : p.split.samples) {
    // The shards read the plan back with nlohmann's parser, which refuses the \udcXX
    // escapes dump_json() writes for bytes that are not UTF-8: say so now, not in every shard.
    if (!is_utf8(s.id) || !is_utf8(s.path.string()))
      throw InputError(s.path, "the file name is not UTF-8, which a plan file cannot carry; rename it, or build on one machine");
    std::error_code ec;
    const auto size = fs::file_size(s.path, ec);
    p.source_bytes.push_back(ec ? 0 : size);
  }
  p.hash = sha256_hex(dump_json(plan_json(p)));
  return p;
}

void write_plan(const Plan& plan, const fs::path& file) {
  json doc = plan_json(plan);
  doc["sha256"] = plan.hash;
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  const fs::path temp = partial_path(file);
  try {
    write_json_durably(temp, doc);
    fs::rename(temp, file);
  } catch (...) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw;
  }
}

Plan read_plan(const fs::path& file) {
  json doc = read_json_file(file, "plan file");
  if (doc.value("format", "") != kPlanFormat) throw std::runtime_error(file.string() + ": not a medmnist-build plan");
  const std::string recorded = doc.value("sha256", "");
  doc.erase("sha256");
  if (sha256_hex(dump_json(doc)) != recorded)
    throw std::runtime_error(file.string() + ": the plan's content does not match its sha256 (edited or damaged)");
  Plan p;
  p.hash = recorded;
  p.tool_version = doc["tool"].value("version", "");
  if (p.tool_version != MMB_VERSION)
    throw std::runtime_error(file.string() + ": made by medmnist-build " + p.tool_version + ", this is " + MMB_VERSION +
                             "; plan again");
  p.converter = doc.at("converter").get<std::string>();
  p.datasets = doc.at("datasets").get<std::vector<std::string>>();
  p.manifest_source.dir = doc["manifests"].at("dir").get<std::string>();
  p.manifest_source.overrides = doc["manifests"].at("overrides").get<std::vector<std::string>>();
  p.manifest_content = doc["manifests"].at("content");
  p.options = options_from(doc.at("options"));
  p.split.rule = doc["split"].at("rule").get<std::string>();
  p.split.dropped = doc["split"].at("dropped").get<std::vector<std::string>>();
  p.split.not_in_source = doc["split"].at("not_in_source").get<std::vector<std::string>>();
  const auto& split = doc["split"];
  split.at("method").get_to(p.split.method);
  split.at("ratios").get_to(p.split.ratios);
  split.at("seed").get_to(p.split.seed);
  split.at("seed_from").get_to(p.split.seed_from);
  split.at("group_from").get_to(p.split.group_from);
  split.at("ratios_from").get_to(p.split.ratios_from);
  split.at("grouped").get_to(p.split.grouped);
  p.enumeration.problems = problems_from(doc["enumeration"].at("problems"));
  p.enumeration.missing = doc["enumeration"].at("missing").get<std::vector<std::string>>();
  p.enumeration.notes = doc["enumeration"].at("notes").get<std::vector<std::string>>();
  p.enumeration.quirks = problems_from(doc["enumeration"].at("quirks"));
  for (const auto& row : doc.at("samples")) {
    std::uint64_t bytes = 0;
    p.split.samples.push_back(sample_from(row, bytes));
    p.source_bytes.push_back(bytes);
  }
  return p;
}

ShardIndex parse_shard(const std::string& text, const std::function<const char*(const char*)>& getenv) {
  auto number = [&](const std::string& s, const char* what) {
    std::size_t used = 0;
    long v = -1;
    try {
      v = std::stol(s, &used);
    } catch (const std::exception&) {
    }
    if (used != s.size() || v < 0) throw std::invalid_argument(std::string(what) + " '" + s + "' is not a number");
    return v;
  };
  auto env = [&](const char* name) -> std::optional<long> {
    const char* v = getenv(name);
    if (!v || !*v || std::string(v) == "undefined") return std::nullopt;
    return number(v, name);
  };
  ShardIndex s;
  const auto slash = text.find('/');
  const std::string head = text.substr(0, slash);
  std::optional<long> given_count;
  if (slash != std::string::npos) given_count = number(text.substr(slash + 1), "--shard count");
  if (head == "auto") {
    if (auto id = env("SLURM_ARRAY_TASK_ID")) {
      const long min = env("SLURM_ARRAY_TASK_MIN").value_or(0), step = std::max(1L, env("SLURM_ARRAY_TASK_STEP").value_or(1));
      s.index = static_cast<int>((*id - min) / step);
      auto count = env("SLURM_ARRAY_TASK_COUNT");
      if (!given_count && !count) throw std::invalid_argument("--shard auto: SLURM_ARRAY_TASK_COUNT is not set");
      s.count = static_cast<int>(given_count.value_or(count.value_or(0)));
    } else if (auto sge = env("SGE_TASK_ID")) {
      const long first = env("SGE_TASK_FIRST").value_or(1), step = std::max(1L, env("SGE_TASK_STEPSIZE").value_or(1));
      s.index = static_cast<int>((*sge - first) / step);
      auto last = env("SGE_TASK_LAST");
      if (!given_count && !last) throw std::invalid_argument("--shard auto: SGE_TASK_LAST is not set");
      s.count = static_cast<int>(given_count.value_or(last ? (*last - first) / step + 1 : 0));
    } else if (auto pbs = env("PBS_ARRAY_INDEX")) {
      if (!given_count) throw std::invalid_argument("--shard auto under PBS needs the count: --shard auto/N");
      s.index = static_cast<int>(*pbs);
      s.count = static_cast<int>(*given_count);
    } else {
      throw std::invalid_argument(
          "--shard auto: not in a job array (no SLURM_ARRAY_TASK_ID, SGE_TASK_ID or PBS_ARRAY_INDEX)");
    }
  } else {
    if (!given_count) throw std::invalid_argument("--shard expects i/n (0-based i), auto or auto/n, got '" + text + "'");
    s.index = static_cast<int>(number(head, "--shard index"));
    s.count = static_cast<int>(*given_count);
  }
  if (s.count < 1 || s.index < 0 || s.index >= s.count)
    throw std::invalid_argument("--shard " + text + ": needs 0 <= i < n, got " + std::to_string(s.index) + "/" +
                                std::to_string(s.count));
  return s;
}

SampleRange shard_range(const Plan& plan, ShardIndex shard) {
  const auto& samples = plan.split.samples;
  const auto starts = steps::unit_starts(samples);
  const auto w = run_weights(plan, starts);
  unsigned __int128 total = 0;
  for (auto x : w) total += x;
  // Run j belongs to the shard holding the middle of its bytes; that is
  // monotone in j, so each shard is one contiguous range of whole runs.
  auto owner = [&](unsigned __int128 prefix, std::uint64_t weight) {
    const auto k = (2 * prefix + weight) * static_cast<unsigned>(shard.count) / (2 * total);
    return std::min<int>(static_cast<int>(k), shard.count - 1);
  };
  SampleRange r{samples.size(), samples.size()};
  bool started = false;
  unsigned __int128 prefix = 0;
  for (std::size_t j = 0; j < starts.size(); ++j) {
    const int k = owner(prefix, w[j]);
    prefix += w[j];
    if (k == shard.index && !started) r.first = starts[j], started = true;
    if (k > shard.index) {
      if (!started) r.first = starts[j];
      r.last = starts[j];
      return r;
    }
  }
  if (!started) r.first = samples.size();
  return r;
}

fs::path default_shard_dir(const Plan& plan) { return plan.options.out_dir / (".medmnist-shards-" + plan.hash.substr(0, 12)); }

std::string shard_name(ShardIndex shard) {
  char name[64];
  std::snprintf(name, sizeof name, "shard-%04d-of-%04d", shard.index, shard.count);
  return name;
}

ShardResult build_shard(const Converter& c, const Plan& plan, ShardIndex shard, const fs::path& dir, int threads,
                        bool progress) {
  if (c.flag() != plan.converter) throw std::invalid_argument("the plan is for " + plan.converter + ", not " + c.flag());
  const auto manifests = plan.load_manifests();
  const auto requested = steps::by_dataset_index(c, manifests);
  BuildOptions o = plan.options;
  o.threads = threads;
  o.progress = progress;
  steps::SignalScope signals;
  auto jobs = steps::make_jobs(manifests, o);
  ShardResult result;
  result.range = shard_range(plan, shard);
  const std::string name = shard_name(shard);

  create_output_dir(dir);
  // Only this shard's own leftovers: other tasks may be writing beside it,
  // from processes on other nodes whose pids mean nothing here.
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto file = entry.path().filename().string();
    if (file.rfind(name + ".", 0) == 0 && file.find(".partial-") != std::string::npos) fs::remove(entry.path());
  }
  NpzOptions npz;
  npz.compress = false;  // temporary files: merge compresses once
  for (auto& job : jobs)
    job.writer = std::make_unique<DatasetWriter>(*job.manifest, job.sizes, dir, npz, DatasetWriter::Layout::OneArray,
                                                 name + ".");
  OutputSet outputs;
  try {
    prepare_converter(c, plan, requested);
    steps::render(c, steps::jobs_by_dataset(jobs, requested), o, plan.split.samples, result.range.first,
                  result.range.last);
    json doc;
    doc["format"] = kShardFormat;
    doc["tool"] = {{"name", "medmnist-build"}, {"version", MMB_VERSION}};
    doc["plan"] = plan.hash;
    doc["shard"] = shard.index;
    doc["of"] = shard.count;
    doc["samples"] = {result.range.first, result.range.last};
    for (auto& job : jobs) {
      json d;
      json ids = json::array();
      for (const auto& split_ids : job.writer->ids())
        for (const auto& id : split_ids) ids.push_back(id);
      result.written += ids.size();
      result.skipped += job.result.skipped.size();
      result.dropped += job.result.dropped.size();
      d["ids"] = std::move(ids);
      d["skipped"] = problems_json(job.result.skipped);
      d["dropped"] = problems_json(job.result.dropped);
      d["decoder_warnings"] = decoder_warnings_json(job.result.decoder_warnings);
      const auto files = job.writer->finish();
      for (std::size_t i = 0; i < files.size(); ++i) {
        d["files"][std::to_string(job.sizes[i])] = files[i].second.filename().string();
        outputs.add(files[i].first, files[i].second);
      }
      doc["datasets"][job.manifest->flag] = std::move(d);
    }
    result.record = dir / (name + ".json");
    const fs::path temp = partial_path(result.record);
    outputs.add_sidecar(temp, result.record);
    write_json_durably(temp, doc);
  } catch (...) {
    for (auto& job : jobs) job.writer->abort();
    throw;
  }
  outputs.commit();
  return result;
}

namespace {

// The jobs of a plan's datasets, with the enumeration's problems and quirks recorded as a
// one-machine build records them, and their writers open in the output folder.
std::vector<steps::Job> open_jobs(const Plan& plan, const std::vector<Manifest>& manifests, const BuildOptions& o) {
  auto jobs = steps::make_jobs(manifests, o);
  steps::record_enumeration_problems(plan.enumeration, o.on_error, o.strict, jobs);
  steps::record_plan_problems(plan.split, o, jobs);
  create_output_dir(o.out_dir);
  for (const auto& line : recover_output_dir(o.out_dir)) std::cerr << "medmnist-build: " << line << "\n";
  NpzOptions npz;
  npz.compress = o.compress;
  for (auto& job : jobs) job.writer = std::make_unique<DatasetWriter>(*job.manifest, job.sizes, o.out_dir, npz);
  return jobs;
}

}  // namespace

std::vector<BuildResult> merge_shards(const Converter& c, const Plan& plan, const fs::path& dir, int threads,
                                      bool progress) {
  if (c.flag() != plan.converter) throw std::invalid_argument("the plan is for " + plan.converter + ", not " + c.flag());
  const auto manifests = plan.load_manifests();
  const auto requested = steps::by_dataset_index(c, manifests);
  const auto shards = find_shards(plan, dir);
  BuildOptions o = plan.options;
  o.threads = threads;
  o.progress = progress;
  steps::SignalScope signals;
  ThreadLimit limit(threads);
  auto jobs = open_jobs(plan, manifests, o);
  const auto by_dataset = steps::jobs_by_dataset(jobs, requested);
  return steps::write_then_commit(jobs, o, plan.split, [&] {
    for (const auto& record : shards) {
      for (std::size_t d = 0; d < by_dataset.size(); ++d)
        if (by_dataset[d]) merge_dataset_shard(plan, record, static_cast<int>(d), *by_dataset[d]);
      if (steps::SignalScope::interrupted()) throw BuildInterrupted();
    }
    steps::check_not_all_skipped(jobs, plan.split, requested);
  });
}

}  // namespace mmb

namespace mmb {

CollectionConfig read_collection_config(const fs::path& file) {
  CollectionConfig c;
  c.file = file;
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    throw std::runtime_error(file.string() + ": " + std::string(e.description()));
  }
  auto bad = [&](const std::string& key, const std::string& why) {
    return std::runtime_error(file.string() + ": " + key + " " + why);
  };
  for (auto&& [key, value] : t) {
    const std::string k(key.str());
    if (k == "out") {
      if (!value.is_string()) throw bad(k, "must be a folder name");
      c.out = fs::path(*value.value<std::string>());
    } else if (k == "sizes") {
      const auto* a = value.as_array();
      if (!a) throw bad(k, "must be a list of numbers like [28, 64]");
      for (auto&& v : *a) {
        if (!v.is_integer()) throw bad(k, "must be a list of numbers like [28, 64]");
        c.sizes.push_back(static_cast<int>(*v.value<std::int64_t>()));
      }
    } else if (k == "on_error") {
      const auto v = value.value<std::string>();
      if (!v || (*v != "fail" && *v != "skip")) throw bad(k, "must be \"fail\" or \"skip\"");
      c.on_error = *v == "skip" ? OnError::Skip : OnError::Fail;
    } else if (k == "compress") {
      if (!value.is_boolean()) throw bad(k, "must be true or false");
      c.compress = *value.value<bool>();
    } else if (k == "sources") {
      const auto* s = value.as_table();
      if (!s) throw bad(k, "must be a table: dataset = \"folder\"");
      for (auto&& [flag, dir] : *s) {
        if (!dir.is_string()) throw bad("sources." + std::string(flag.str()), "must be a folder name");
        fs::path p = *dir.value<std::string>();
        if (p.is_relative()) p = file.parent_path() / p;  // relative to the config file
        c.sources.emplace_back(std::string(flag.str()), p);
      }
    } else {
      throw bad(k, "is not a known setting (out, sizes, on_error, compress, [sources])");
    }
  }
  if (c.sources.empty()) throw std::runtime_error(file.string() + ": no [sources] table: dataset = \"folder\"");
  return c;
}

bool outputs_up_to_date(const Plan& plan) {
  const auto manifests = plan.load_manifests();
  for (const auto& job : steps::make_jobs(manifests, plan.options))
    for (int size : job.sizes) {
      const fs::path npz = plan.options.out_dir / npz_file_name(job.manifest->flag, size);
      fs::path sidecar = npz;
      sidecar.replace_extension(".json");
      if (!fs::exists(npz) || !fs::exists(sidecar)) return false;
      std::ifstream in(sidecar);
      const auto doc = nlohmann::json::parse(in, nullptr, false);
      if (doc.is_discarded() || doc.value("plan_sha256", "") != plan.hash) return false;
    }
  return true;
}

std::vector<BuildResult> build_from_plan(const Converter& c, const Plan& plan, int threads, bool progress) {
  const auto manifests = plan.load_manifests();
  const auto requested = steps::by_dataset_index(c, manifests);
  BuildOptions o = plan.options;
  o.threads = threads;
  o.progress = progress;
  o.plan_hash = plan.hash;
  steps::SignalScope signals;
  auto jobs = open_jobs(plan, manifests, o);
  return steps::write_then_commit(jobs, o, plan.split, [&] {
    prepare_converter(c, plan, requested);
    steps::render(c, steps::jobs_by_dataset(jobs, requested), o, plan.split.samples, 0, plan.split.samples.size());
    steps::check_not_all_skipped(jobs, plan.split, requested);
  });
}

}  // namespace mmb
