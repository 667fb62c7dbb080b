// medmnist-build: a thin command line over common/ and converters/.
//
// Exit codes (also in README.md):
//   0  success (skipped inputs, if any, are listed in the .json sidecars)
//   1  a source input is missing, truncated or malformed (--on-error fail),
//      or `check` found problems
//   2  usage error
//   3  any other failure (unknown layout, bad manifest, cannot write output)
//   130 interrupted (SIGINT/SIGTERM); no .npz was left behind
// docs/cli.md describes every command, the --json schemas and these codes.
#include <boost/program_options.hpp>
#include <algorithm>
#include <cctype>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/core/allocator.h"
#include "common/core/limits.h"
#include "common/core/version.h"
#include "common/pipeline/json_text.h"
#include "common/npz/montage.h"
#include "common/pipeline/build.h"
#include "common/pipeline/check.h"
#include "common/pipeline/compare.h"
#include "common/pipeline/cluster.h"
#include "common/pipeline/settings.h"

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

constexpr int kOk = 0, kInputError = 1, kUsage = 2, kFailure = 3, kInterrupted = 130;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The --source of this run: an error about the folder itself (rather than a file in it)
// means no known layout was found there, which is exit 3, not an input error.
fs::path g_source;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for the closest candidate within a third of the word's length
// (at least 2 edits), else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(lower(word), lower(c));
    if (d < best_distance) best = c, best_distance = d;
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

std::vector<std::string> all_flags() {
  std::vector<std::string> flags;
  for (const auto& c : mmb::all_converters())
    for (const auto& f : c->flags()) flags.push_back(f);
  return flags;
}

// The dataset flag as written, or its case-insensitive match (ChestMNIST -> chestmnist).
std::string canonical_flag(const std::string& name) {
  const auto flags = all_flags();
  for (const auto& f : flags)
    if (lower(name) == f) return f;
  throw UsageError("unknown dataset '" + name + "'" + did_you_mean(name, flags) + " (see 'medmnist-build list')");
}

const char* kSplitNames[3] = {"train", "val", "test"};

nlohmann::ordered_json problems_json(const std::vector<mmb::Problem>& problems) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& p : problems) out.push_back({{"where", p.where}, {"reason", p.reason}});
  return out;
}

nlohmann::ordered_json split_counts_json(const std::array<std::size_t, 3>& counts) {
  return {{"train", counts[0]}, {"val", counts[1]}, {"test", counts[2]}};
}

const char* kUsageText =
    "usage: medmnist-build <command> [options]\n"
    "commands:\n"
    "  list                         the datasets and the source each one needs\n"
    "  check DATASET --source DIR   validate a source tree; writes nothing\n"
    "  build DATASET... --source DIR --out DIR [options]\n"
    "  montage FILE.npz --split S   a grid of samples (PNG or JPEG; GIF of slices for 3D)\n"
    "  compare OURS.npz OTHER.npz   how close a build is to another file (e.g. the official one)\n"
    "  plan DATASET... --source DIR --out DIR [options]   enumerate and split once, for a cluster\n"
    "  build --plan PLAN --shard i/n|auto                  render one shard of a plan\n"
    "  merge --plan PLAN            check the shards and write the final files (docs/cluster.md)\n"
    "  --version                    the version and git commit of this build\n"
    "Run 'medmnist-build <command> --help' for a command's options.\n";

std::vector<int> parse_sizes(const std::string& text) {
  std::vector<int> sizes;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    try {
      sizes.push_back(std::stoi(part));
    } catch (const std::exception&) {
      throw UsageError("--sizes expects numbers like 28,64,128,224, got '" + text + "'");
    }
    if (std::count(sizes.begin(), sizes.end(), sizes.back()) > 1)
      throw UsageError("--sizes lists " + std::to_string(sizes.back()) + " twice");
  }
  return sizes;
}

std::array<double, 3> parse_ratios(const std::string& text) {
  std::array<double, 3> r{};
  char c1 = 0, c2 = 0;
  std::istringstream in(text);
  if (!(in >> r[0] >> c1 >> r[1] >> c2 >> r[2]) || c1 != ',' || c2 != ',')
    throw UsageError("ratios look like 7,1,2, got '" + text + "'");
  return r;
}

// --split source | ratio[:7,1,2] | lists:DIR
void apply_split_option(const std::string& text, mmb::BuildOptions& o) {
  if (text == "source") {
    o.split_mode = mmb::SplitMode::Source;
  } else if (text.rfind("ratio", 0) == 0) {
    o.split_mode = mmb::SplitMode::Ratio;
    if (text.size() > 6 && text[5] == ':') o.ratios = parse_ratios(text.substr(6));
  } else if (text.rfind("lists:", 0) == 0) {
    o.split_mode = mmb::SplitMode::Lists;
    o.lists_dir = text.substr(6);
  } else {
    throw UsageError("--split expects source, ratio[:a,b,c] or lists:DIR, got '" + text + "'");
  }
}

// --limit NAME=VALUE: what an input's header may claim (common/core/limits.h).
void add_limit_option(po::options_description& d) {
  std::string names;
  for (const auto& n : mmb::input_limit_names()) names += (names.empty() ? "" : ", ") + n;
  d.add_options()("limit", po::value<std::vector<std::string>>()->composing(),
                  ("raise or lower an input limit: NAME=VALUE, VALUE an integer or 2^N (repeatable; " + names +
                   "; defaults in docs/input-checks.md)").c_str());
}

// Sets the process's input limits from --limit, before any thread starts.
void apply_limit_options(const po::variables_map& vm) {
  if (!vm.count("limit")) return;
  mmb::InputLimits limits = mmb::input_limits();
  try {
    for (const auto& s : vm["limit"].as<std::vector<std::string>>()) mmb::apply_input_limit(limits, s);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  mmb::set_input_limits(limits);
}

po::options_description source_options(const char* caption) {
  po::options_description d(caption);
  d.add_options()("help,h", "show this help")("source", po::value<std::string>(), "the raw dataset folder")(
      "manifests", po::value<std::string>(), "folder of manifests (default: the source tree's manifests/)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a manifest value: key=value (repeatable)")(
      "split", po::value<std::string>()->default_value("source"), "source | ratio[:7,1,2] | lists:DIR (DIR/train.txt, val.txt, test.txt: one sample id a line, first word; ids in no list are left out and reported)")(
      "group", po::value<std::string>(), "subject | none: keep subjects (patients, lesions) in one split, or not")(
      "seed", po::value<std::uint64_t>(), "seed for ratio splits (default: the manifest's)")(
      "index-map", po::value<std::string>(), "MedMNIST's split,index,image_id CSV: fixes membership and order")(
      "threads", po::value<int>()->default_value(0), "worker threads (0 = all cores; negative is an error)")(
      "unit-memory", po::value<std::size_t>(), "MB of source volumes held at once (default: half the machine's memory)")(
      "json", "print the summary as one JSON object on stdout (schema: docs/cli.md)");
  add_limit_option(d);
  return d;
}

po::variables_map parse(int argc, char** argv, const po::options_description& d, const char* positional,
                        std::vector<std::string>* names = nullptr) {
  po::positional_options_description p;
  if (positional) p.add(positional, -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(d).positional(p).run(), vm);
  } catch (const po::unknown_option& e) {
    std::vector<std::string> known;
    for (const auto& o : d.options()) known.push_back("--" + o->long_name());
    throw UsageError(std::string(e.what()) + did_you_mean(e.get_option_name(), known));
  }
  po::notify(vm);
  if (names && vm.count(positional)) *names = vm[positional].as<std::vector<std::string>>();
  return vm;
}

mmb::Manifest load_manifest(const std::string& flag, const po::variables_map& vm) {
  const fs::path dir = vm.count("manifests") ? fs::path(vm["manifests"].as<std::string>()) : mmb::default_manifest_dir();
  auto m = mmb::load_manifest_for(flag, dir);
  if (!vm.count("set")) return m;
  try {  // a typo in a key or value is a usage error, found before anything is read
    for (const auto& s : vm["set"].as<std::vector<std::string>>()) m.apply_override(s);
    mmb::validate_settings(m);
  } catch (const std::exception& e) {
    throw UsageError(e.what());
  }
  return m;
}

const mmb::Converter& converter_for(const std::string& flag) {
  const auto* c = mmb::find_converter(canonical_flag(flag));
  if (!c) throw UsageError("unknown dataset '" + flag + "' (see 'medmnist-build list')");
  return *c;
}

mmb::BuildOptions build_options(const po::variables_map& vm) {
  mmb::BuildOptions o;
  if (!vm.count("source")) throw UsageError("--source DIR is required");
  o.source = vm["source"].as<std::string>();
  g_source = o.source;
  apply_limit_options(vm);
  o.threads = vm["threads"].as<int>();
  if (vm.count("unit-memory")) o.unit_memory_mb = vm["unit-memory"].as<std::size_t>();
  if (o.threads < 0) throw UsageError("--threads expects a count, or 0 for all cores");
  apply_split_option(vm["split"].as<std::string>(), o);
  if (vm.count("group")) {
    const auto g = vm["group"].as<std::string>();
    if (g != "subject" && g != "none") throw UsageError("--group expects subject or none");
    o.group_by_subject = g == "subject";
  }
  if (vm.count("seed")) o.seed = vm["seed"].as<std::uint64_t>();
  if (vm.count("index-map")) o.index_map = fs::path(vm["index-map"].as<std::string>());
  return o;
}

int cmd_list(int argc, char** argv) {
  po::options_description d("list options");
  d.add_options()("help,h", "show this help")("json", "print a JSON array on stdout (schema: docs/cli.md)");
  auto vm = parse(argc, argv, d, nullptr);
  if (vm.count("help")) return std::cout << "usage: medmnist-build list [--json]\n" << d, kOk;
  auto json = nlohmann::ordered_json::array();
  for (const auto& c : mmb::all_converters())
    for (const auto& flag : c->flags()) {
      const auto m = mmb::load_manifest_for(flag);
      if (vm.count("json")) {
        json.push_back({{"flag", flag}, {"python_class", m.python_class}, {"dim", m.dim}, {"sizes", m.sizes},
                        {"task", m.task}, {"n_channels", m.n_channels}, {"labels", m.labels},
                        {"source", c->source_summary()}});
        continue;
      }
      std::cout << flag << " (" << m.python_class << ", " << m.dim << "D, sizes";
      for (int s : m.sizes) std::cout << " " << s;
      std::cout << ")\n    source: " << c->source_summary() << "\n";
    }
  if (vm.count("json")) std::cout << mmb::dump_json(json, 2) << "\n";
  return kOk;
}

nlohmann::ordered_json check_json(const mmb::Manifest& m, const mmb::CheckReport& r) {
  nlohmann::ordered_json counts;
  for (int i = 0; i < 3; ++i) counts[kSplitNames[i]] = {{"found", r.counts[i]}, {"medmnist", r.official[i]}};
  return {{"dataset", m.flag}, {"ok", r.ok()}, {"layout", r.layout}, {"split_rule", r.split_rule},
          {"notes", r.notes}, {"problems", problems_json(r.problems)}, {"missing", r.missing},
          {"unexpected", r.unexpected}, {"unreadable", problems_json(r.unreadable)}, {"counts", counts}};
}

int cmd_check(int argc, char** argv) {
  auto d = source_options("check options");
  d.add_options()("dataset", po::value<std::vector<std::string>>(), "dataset flag")(
      "deep", "decode every image and NIfTI volume as build would (slow); without it, check reads only signatures, "
              "headers, sizes and end markers, which miss corrupt compressed data");
  std::vector<std::string> flags;
  auto vm = parse(argc, argv, d, "dataset", &flags);
  if (vm.count("help")) return std::cout << "usage: medmnist-build check DATASET --source DIR\n" << d, kOk;
  if (flags.size() != 1) throw UsageError("check takes exactly one DATASET");
  flags[0] = canonical_flag(flags[0]);
  const auto& converter = converter_for(flags[0]);
  const auto m = load_manifest(flags[0], vm);
  auto options = build_options(vm);
  options.deep_check = vm.count("deep") > 0;
  const auto report = mmb::check_source(converter, m, options);
  if (vm.count("json"))
    std::cout << mmb::dump_json(check_json(m, report), 2) << "\n";
  else
    std::cout << mmb::format_check_report(m, report);
  return report.ok() ? kOk : kInputError;
}

// The outputs of a build that exist before it: an existing file is replaced, and the user is
// told so on stderr (a rebuild into the same folder is the normal workflow, so no --force).
std::vector<fs::path> existing_outputs(const mmb::Manifest& m, const mmb::BuildOptions& o) {
  std::vector<fs::path> found;
  for (int size : o.sizes.empty() ? m.sizes : o.sizes) {
    const fs::path npz = o.out_dir / mmb::npz_file_name(m.flag, size);
    std::error_code ec;
    if (fs::exists(npz, ec)) found.push_back(npz);
  }
  return found;
}

// --sizes: each a size the dataset has, each once; checked before anything is read or written.
void check_sizes(const std::vector<int>& sizes, const mmb::Manifest& m) {
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (std::find(m.sizes.begin(), m.sizes.end(), sizes[i]) == m.sizes.end()) {
      std::ostringstream have;
      for (std::size_t j = 0; j < m.sizes.size(); ++j) have << (j ? "," : "") << m.sizes[j];
      throw UsageError(m.flag + " has no size " + std::to_string(sizes[i]) + " (sizes: " + have.str() + ")");
    }
    if (std::find(sizes.begin(), sizes.begin() + i, sizes[i]) != sizes.begin() + i)
      throw UsageError("--sizes names " + std::to_string(sizes[i]) + " twice");
  }
}

nlohmann::ordered_json result_json(const mmb::Manifest& m, const mmb::BuildResult& r,
                                   const std::vector<fs::path>& replaced) {
  auto outputs = nlohmann::ordered_json::array();
  for (const auto& out : r.outputs)
    outputs.push_back({{"size", out.size}, {"npz", out.npz.string()}, {"sidecar", out.sidecar.string()},
                       {"sha256", out.sha256},
                       {"replaced", std::find(replaced.begin(), replaced.end(), out.npz) != replaced.end()}});
  return {{"dataset", m.flag}, {"counts", split_counts_json(r.counts)}, {"outputs", outputs},
          {"skipped", problems_json(r.skipped)}, {"dropped", problems_json(r.dropped)},
          {"decoder_warnings", r.decoder_warnings.size()}, {"warnings", r.warnings}};
}

void print_result(const mmb::Manifest& m, const mmb::BuildResult& r) {
  for (const auto& out : r.outputs) std::cout << "wrote " << out.npz.string() << " (sha256 " << out.sha256 << ")\n";
  std::cout << m.flag << ": train " << r.counts[0] << ", val " << r.counts[1] << ", test " << r.counts[2] << "\n";
  for (const auto& p : r.skipped) std::cerr << "skipped: " << p.message() << "\n";
  if (!r.dropped.empty()) std::cerr << m.flag << ": " << r.dropped.size() << " samples dropped by the recipe (see the sidecar)\n";
  for (const auto& w : r.warnings) std::cerr << "warning: " << m.flag << ": " << w << "\n";
}

// ---- cluster commands (docs/cluster.md) ---------------------------------------

void add_cluster_options(po::options_description& d) {
  d.add_options()("plan", po::value<std::string>(), "a plan file from 'plan' (build renders one --shard of it)")(
      "shard", po::value<std::string>(), "i/n (0-based), auto or auto/n: which part of the plan to render")(
      "shard-dir", po::value<std::string>(), "shard files (default: <out>/.medmnist-shards-<plan hash>)")(
      "config", po::value<std::string>(), "sources.toml: build every dataset whose source is present");
}

fs::path shard_dir(const po::variables_map& vm, const mmb::Plan& plan) {
  return vm.count("shard-dir") ? fs::path(vm["shard-dir"].as<std::string>()) : mmb::default_shard_dir(plan);
}

int cmd_build_shard(const po::variables_map& vm, const std::vector<std::string>& flags) {
  if (!flags.empty() || vm.count("source") || vm.count("out") || vm.count("sizes") || vm.count("set") || vm.count("limit"))
    throw UsageError("build --plan takes its datasets and options from the plan; give only --shard, --threads, -q");
  if (!vm.count("shard")) throw UsageError("build --plan needs --shard i/n (or auto in a job array)");
  mmb::ShardIndex shard;
  try {
    shard = mmb::parse_shard(vm["shard"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const auto plan = mmb::read_plan(vm["plan"].as<std::string>());
  const auto r = mmb::build_shard(converter_for(plan.datasets.front()), plan, shard, shard_dir(vm, plan),
                                  vm["threads"].as<int>(), !vm.count("quiet"));
  std::cout << "wrote " << r.record.string() << ": samples " << r.range.first << "-" << r.range.last << ", "
            << r.written << " rendered, " << r.skipped << " skipped, " << r.dropped << " dropped by the recipe\n";
  return kOk;
}

// --config sources.toml: every dataset whose source folder is present, one
// pass per source; `build` skips outputs whose sidecars record the same plan.
int run_collection(const po::variables_map& vm, std::vector<std::string> flags, bool plan_only) {
  if (vm.count("source")) throw UsageError("--config names a source folder per dataset; leave --source out");
  if (vm.count("index-map")) throw UsageError("--index-map applies to one dataset; it cannot go with --config");
  const auto config = mmb::read_collection_config(vm["config"].as<std::string>());
  apply_limit_options(vm);
  mmb::BuildOptions o;
  o.threads = vm["threads"].as<int>();
  apply_split_option(vm["split"].as<std::string>(), o);
  if (vm.count("group")) o.group_by_subject = vm["group"].as<std::string>() == "subject";
  if (vm.count("seed")) o.seed = vm["seed"].as<std::uint64_t>();
  if (vm.count("out")) o.out_dir = vm["out"].as<std::string>();
  else if (config.out) o.out_dir = *config.out;
  else throw UsageError("--out DIR is required (or out = \"DIR\" in " + config.file.string() + ")");
  o.sizes = vm.count("sizes") ? parse_sizes(vm["sizes"].as<std::string>()) : config.sizes;
  const auto on_error = vm["on-error"].as<std::string>();
  if (on_error != "fail" && on_error != "skip") throw UsageError("--on-error expects fail or skip");
  o.on_error = !vm["on-error"].defaulted() ? (on_error == "skip" ? mmb::OnError::Skip : mmb::OnError::Fail)
                                           : config.on_error.value_or(mmb::OnError::Fail);
  o.compress = vm.count("no-compress") ? false : config.compress.value_or(true);
  o.strict = vm.count("strict") > 0;
  o.progress = !vm.count("quiet");
  mmb::ManifestSource manifests_from;
  if (vm.count("manifests")) manifests_from.dir = fs::absolute(vm["manifests"].as<std::string>());
  if (vm.count("set")) manifests_from.overrides = vm["set"].as<std::vector<std::string>>();
  if (flags.empty())
    for (const auto& [flag, dir] : config.sources) flags.push_back(flag);
  // One pass per (converter, source folder).
  std::vector<std::tuple<const mmb::Converter*, fs::path, std::vector<mmb::Manifest>>> passes;
  for (const auto& flag : flags) {
    auto it = std::find_if(config.sources.begin(), config.sources.end(), [&](const auto& s) { return s.first == flag; });
    if (it == config.sources.end()) throw UsageError(flag + " has no source in " + config.file.string());
    const auto* c = &converter_for(flag);
    if (!fs::is_directory(it->second)) {
      std::cerr << "not found: " << flag << " (no folder " << it->second.string() << ")\n";
      continue;
    }
    auto pass = std::find_if(passes.begin(), passes.end(),
                             [&](const auto& p) { return std::get<0>(p) == c && std::get<1>(p) == it->second; });
    if (pass == passes.end()) pass = passes.insert(passes.end(), {c, it->second, {}});
    std::get<2>(*pass).push_back(load_manifest(flag, vm));
  }
  for (const auto& [converter, source, manifests] : passes) {
    o.source = source;
    const auto plan = mmb::make_plan(*converter, manifests, o, manifests_from);
    if (plan_only) {
      const fs::path file = o.out_dir / (manifests.front().flag + ".plan.json");
      mmb::write_plan(plan, file);
      std::cout << "wrote " << file.string() << " (sha256 " << plan.hash << "): " << plan.split.samples.size()
                << " samples\n";
    } else if (mmb::outputs_up_to_date(plan)) {
      for (const auto& m : manifests) std::cout << "up to date: " << m.flag << " (plan " << plan.hash.substr(0, 12) << ")\n";
    } else {
      const auto results = mmb::build_from_plan(*converter, plan, o.threads, o.progress);
      for (std::size_t i = 0; i < results.size(); ++i) print_result(manifests[i], results[i]);
    }
  }
  return kOk;
}

// --out, --sizes, --on-error and --no-compress: what plan and build read past build_options().
void read_output_options(const po::variables_map& vm, mmb::BuildOptions& o) {
  o.out_dir = vm["out"].as<std::string>();
  if (vm.count("sizes")) o.sizes = parse_sizes(vm["sizes"].as<std::string>());
  const auto on_error = vm["on-error"].as<std::string>();
  if (on_error != "fail" && on_error != "skip") throw UsageError("--on-error expects fail or skip");
  o.on_error = on_error == "skip" ? mmb::OnError::Skip : mmb::OnError::Fail;
  o.compress = !vm.count("no-compress");
  o.strict = vm.count("strict") > 0;
}

// Datasets made by one converter are built (or planned) in one pass over their source;
// requested sizes are checked against each dataset's before anything is read.
using Passes = std::vector<std::pair<const mmb::Converter*, std::vector<mmb::Manifest>>>;
Passes passes_by_converter(const std::vector<std::string>& flags, const po::variables_map& vm,
                           const std::vector<int>& sizes) {
  Passes passes;
  for (const auto& flag : flags) {
    const auto* c = &converter_for(flag);
    auto it = std::find_if(passes.begin(), passes.end(), [&](const auto& p) { return p.first == c; });
    if (it == passes.end()) it = passes.insert(passes.end(), {c, {}});
    it->second.push_back(load_manifest(canonical_flag(flag), vm));
    if (!sizes.empty()) check_sizes(sizes, it->second.back());
  }
  return passes;
}

int cmd_plan(int argc, char** argv) {
  auto d = source_options("plan options");
  d.add_options()("dataset", po::value<std::vector<std::string>>(), "dataset flags")(
      "out", po::value<std::string>(), "output folder of the final files (merge writes there)")(
      "plan", po::value<std::string>(), "plan file (default: <out>/<dataset>.plan.json)")(
      "sizes", po::value<std::string>(), "comma-separated sizes (default: all the dataset has)")(
      "on-error", po::value<std::string>()->default_value("fail"), "fail | skip: stop at a bad input, or record it")(
      "no-compress", "write STORED members instead of DEFLATE")(
      "strict", "known source quirks (e.g. LIDC series pylidc cannot cluster) stop the plan instead of being skipped")(
      "config", po::value<std::string>(), "sources.toml: a source folder per dataset (docs/cluster.md)")(
      "quiet,q", "no progress output");
  std::vector<std::string> flags;
  auto vm = parse(argc, argv, d, "dataset", &flags);
  if (vm.count("help")) return std::cout << "usage: medmnist-build plan DATASET... --source DIR --out DIR\n" << d, kOk;
  if (vm.count("config")) return run_collection(vm, flags, true);
  if (flags.empty()) throw UsageError("plan needs at least one DATASET");
  if (!vm.count("out")) throw UsageError("--out DIR is required");
  auto o = build_options(vm);
  read_output_options(vm, o);
  mmb::ManifestSource source;
  if (vm.count("manifests")) source.dir = fs::absolute(vm["manifests"].as<std::string>());
  if (vm.count("set")) source.overrides = vm["set"].as<std::vector<std::string>>();
  const auto passes = passes_by_converter(flags, vm, o.sizes);
  if (vm.count("plan") && passes.size() > 1)
    throw UsageError("--plan names one file, but these datasets come from " + std::to_string(passes.size()) +
                     " sources; leave --plan out to get <out>/<dataset>.plan.json each");
  for (const auto& [converter, manifests] : passes) {
    const auto plan = mmb::make_plan(*converter, manifests, o, source);
    const fs::path file = vm.count("plan") ? fs::path(vm["plan"].as<std::string>())
                                           : o.out_dir / (manifests.front().flag + ".plan.json");
    mmb::write_plan(plan, file);
    std::uint64_t bytes = 0;
    for (auto b : plan.source_bytes) bytes += b;
    std::cout << "wrote " << file.string() << " (sha256 " << plan.hash << "): " << plan.split.samples.size()
              << " samples, " << bytes / 1e6 << " MB of source\n";
  }
  return kOk;
}

int cmd_merge(int argc, char** argv) {
  po::options_description d("merge options");
  d.add_options()("help,h", "show this help")("plan", po::value<std::string>(), "the plan file the shards were built from")(
      "shard-dir", po::value<std::string>(), "shard files (default: <out>/.medmnist-shards-<plan hash>)")(
      "keep-shards", "keep the shard files after a successful merge")(
      "threads", po::value<int>()->default_value(0), "worker threads for DEFLATE (0 = all cores)")(
      "quiet,q", "no progress output");
  auto vm = parse(argc, argv, d, nullptr);
  if (vm.count("help")) return std::cout << "usage: medmnist-build merge --plan PLAN\n" << d, kOk;
  if (!vm.count("plan")) throw UsageError("merge needs --plan PLAN");
  const auto plan = mmb::read_plan(vm["plan"].as<std::string>());
  const auto manifests = plan.load_manifests();
  const fs::path dir = shard_dir(vm, plan);
  const auto results = mmb::merge_shards(converter_for(plan.datasets.front()), plan, dir, vm["threads"].as<int>(),
                                         !vm.count("quiet"));
  for (std::size_t i = 0; i < results.size(); ++i) print_result(manifests[i], results[i]);
  if (!vm.count("keep-shards")) {  // only the shard files: --shard-dir may name a folder holding other things
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().filename().string().rfind("shard-", 0) == 0) fs::remove(entry.path());
    std::error_code ec;
    fs::remove(dir, ec);  // if now empty
  }
  return kOk;
}

int cmd_build(int argc, char** argv) {
  auto d = source_options("build options");
  add_cluster_options(d);
  d.add_options()("dataset", po::value<std::vector<std::string>>(), "dataset flags")(
      "out", po::value<std::string>(), "output folder")(
      "sizes", po::value<std::string>(), "comma-separated sizes (default: all the dataset has)")(
      "on-error", po::value<std::string>()->default_value("fail"), "fail | skip: stop at a bad input, or record it")(
      "no-compress", "write STORED members instead of DEFLATE")(
      "strict", "known source quirks (e.g. LIDC series pylidc cannot cluster) stop the build instead of being skipped, "
      "and a decoder warning (\"Corrupt JPEG data\") makes its sample an input error")("quiet,q", "no progress output");
  std::vector<std::string> flags;
  auto vm = parse(argc, argv, d, "dataset", &flags);
  if (vm.count("help")) return std::cout << "usage: medmnist-build build DATASET... --source DIR --out DIR\n" << d, kOk;
  if (vm.count("plan")) return cmd_build_shard(vm, flags);
  if (vm.count("config")) return run_collection(vm, flags, false);
  if (vm.count("shard")) throw UsageError("--shard needs --plan PLAN (made by 'plan')");
  if (flags.empty()) throw UsageError("build needs at least one DATASET");
  if (!vm.count("out")) throw UsageError("--out DIR is required");
  auto o = build_options(vm);
  for (auto& flag : flags) flag = canonical_flag(flag);
  read_output_options(vm, o);
  const bool json = vm.count("json") > 0;
  o.progress = !vm.count("quiet") && !json;
  const auto passes = passes_by_converter(flags, vm, o.sizes);
  // Every pass runs before anything is reported, so no "wrote" line precedes a failure; if a
  // later pass fails, the files the earlier ones wrote are named on stderr.
  std::vector<std::pair<const mmb::Manifest*, mmb::BuildResult>> done;
  std::vector<fs::path> replaced;
  for (const auto& [converter, manifests] : passes) {
    for (const auto& m : manifests)
      for (const auto& npz : existing_outputs(m, o)) replaced.push_back(npz);
    try {
      const auto results = mmb::build_datasets(*converter, manifests, o);
      for (std::size_t i = 0; i < results.size(); ++i) done.emplace_back(&manifests[i], results[i]);
    } catch (...) {
      for (const auto& [m, r] : done)
        for (const auto& out : r.outputs)
          std::cerr << "medmnist-build: written before the failure: " << out.npz.string() << "\n";
      throw;
    }
  }
  nlohmann::ordered_json summary = {{"datasets", nlohmann::ordered_json::array()}};
  for (const auto& [m, r] : done) {
    if (json)
      summary["datasets"].push_back(result_json(*m, r, replaced));
    else
      print_result(*m, r);
    for (const auto& out : r.outputs)
      if (std::find(replaced.begin(), replaced.end(), out.npz) != replaced.end())
        std::cerr << "medmnist-build: replaced the existing " << out.npz.string() << "\n";
  }
  if (json) std::cout << mmb::dump_json(summary, 2) << "\n";
  return kOk;
}

int cmd_montage(int argc, char** argv) {
  po::options_description d("montage options");
  d.add_options()("help,h", "show this help")("file", po::value<std::vector<std::string>>(), "the .npz")(
      "split", po::value<std::string>()->default_value("train"), "train | val | test")(
      "length", po::value<int>()->default_value(10), "grid side, in samples")(
      "seed", po::value<unsigned>()->default_value(0), "0 = the first samples, else a seeded random choice")(
      "out", po::value<std::string>(),
      "output file: .png, .jpg/.jpeg (2D) or .gif (3D) (default: <npz stem>_<split>_montage.png|gif)")(
      "labels", "draw each sample's class label in its cell")(
      "border", po::value<int>()->default_value(0), "white lines of N pixels between and around the cells");
  add_limit_option(d);
  std::vector<std::string> files;
  auto vm = parse(argc, argv, d, "file", &files);
  if (vm.count("help")) return std::cout << "usage: medmnist-build montage FILE.npz --split S\n" << d, kOk;
  if (files.size() != 1) throw UsageError("montage takes exactly one FILE.npz");
  const fs::path npz = files[0];
  const std::string split = vm["split"].as<std::string>();
  if (split != "train" && split != "val" && split != "test")
    throw UsageError("--split expects train, val or test, got '" + split + "'" +
                     did_you_mean(split, {"train", "val", "test"}));
  fs::path out = vm.count("out") ? fs::path(vm["out"].as<std::string>())
                                 : npz.parent_path() / (npz.stem().string() + "_" + split + "_montage");
  mmb::MontageOptions mo;
  mo.length = vm["length"].as<int>();
  mo.seed = vm["seed"].as<unsigned>();
  mo.border = vm["border"].as<int>();
  mo.labels = vm.count("labels") > 0;
  apply_limit_options(vm);
  mo.max_bytes = mmb::input_limits().montage_bytes;
  if (mo.length <= 0) throw UsageError("--length expects a positive grid side");
  fs::path written;
  try {
    written = mmb::write_montage(npz, split, out, mo);
  } catch (const mmb::MontageUsageError& e) {
    throw UsageError(e.what());
  }
  std::cout << "wrote " << written.string() << "\n";
  return kOk;
}

// ---- compare (common/pipeline/compare.h): how close a build is to another file of the same dataset.
// Exit 0 when both hold identical arrays, 1 when they differ.
int cmd_compare(int argc, char** argv) {
  po::options_description d("compare options");
  d.add_options()("help,h", "show this help")("file", po::value<std::vector<std::string>>(), "OURS.npz OTHER.npz")(
      "index-map", po::value<std::string>(), "MedMNIST's split,index,image_id CSV naming OTHER's samples")(
      "json", "print the report as JSON")("flag", po::value<std::string>(), "dataset flag (default: from OURS's name)")(
      "kernels", "rebuild a sample of --source with every resize kernel and rank them against OTHER")(
      "source", po::value<std::string>(), "the raw dataset folder (for --kernels)")(
      "manifests", po::value<std::string>(), "folder of manifests (default: the source tree's manifests/)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a manifest value for --kernels")(
      "samples", po::value<int>(), "samples rebuilt per kernel (default 16)")(
      "max-match", po::value<std::size_t>(), "nearest-neighbour matching: samples per split and class (default 1000)")(
      "list", po::value<std::size_t>(), "worst samples and label disagreements listed (default 10)");
  std::vector<std::string> files;
  auto vm = parse(argc, argv, d, "file", &files);
  if (vm.count("help")) return std::cout << "usage: medmnist-build compare OURS.npz OTHER.npz [options]\n" << d, kOk;
  if (files.size() != 2) throw UsageError("compare takes OURS.npz and OTHER.npz");
  mmb::CompareOptions o;
  o.ours = files[0], o.other = files[1];
  if (vm.count("index-map")) o.index_map = fs::path(vm["index-map"].as<std::string>());
  if (vm.count("flag")) o.flag = vm["flag"].as<std::string>();
  o.kernels = vm.count("kernels") > 0;
  if (vm.count("source")) o.source = fs::path(vm["source"].as<std::string>());
  if (o.kernels && !o.source) throw UsageError("--kernels needs --source DIR");
  o.converter_for = [](const std::string& flag) { return mmb::find_converter(flag); };
  if (vm.count("manifests")) o.manifest_dir = fs::path(vm["manifests"].as<std::string>());
  if (vm.count("set")) o.overrides = vm["set"].as<std::vector<std::string>>();
  if (vm.count("samples")) o.kernel_samples = vm["samples"].as<int>();
  if (vm.count("max-match")) o.max_match = vm["max-match"].as<std::size_t>();
  if (vm.count("list")) o.listed = vm["list"].as<std::size_t>();
  const auto report = mmb::compare_npz(o);
  std::cout << (vm.count("json") ? mmb::dump_json(report, 1) + "\n" : mmb::format_compare_report(report));
  return report["identical"].get<bool>() ? kOk : kInputError;
}
// ---- end compare

int dispatch(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")
    return std::cout << kUsageText, argc < 2 ? kUsage : kOk;
  const std::string cmd = argv[1];
  if (cmd == "--version" || cmd == "version")
    return std::cout << "medmnist-build " << mmb::tool_version() << " (git " << mmb::git_commit() << ")\n", kOk;
  if (cmd == "list") return cmd_list(argc - 1, argv + 1);
  if (cmd == "check") return cmd_check(argc - 1, argv + 1);
  if (cmd == "build") return cmd_build(argc - 1, argv + 1);
  if (cmd == "montage") return cmd_montage(argc - 1, argv + 1);
  if (cmd == "compare") return cmd_compare(argc - 1, argv + 1);
  if (cmd == "plan") return cmd_plan(argc - 1, argv + 1);
  if (cmd == "merge") return cmd_merge(argc - 1, argv + 1);
  throw UsageError("unknown command '" + cmd + "'" +
                   did_you_mean(cmd, {"list", "check", "build", "montage", "compare", "plan", "merge"}) + "\n" +
                   kUsageText);
}

}  // namespace

int main(int argc, char** argv) {
  mmb::keep_freed_memory_for_reuse();  // no fresh pages per sample (issue 12)
  try {
    return dispatch(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "medmnist-build: " << e.what() << "\n";
    return kUsage;
  } catch (const po::error& e) {
    std::cerr << "medmnist-build: " << e.what() << "\n";
    return kUsage;
  } catch (const mmb::InputError& e) {
    std::error_code ec;
    if (!g_source.empty() && (e.path() == g_source || fs::equivalent(e.path(), g_source, ec))) {
      std::cerr << "medmnist-build: error: " << e.what() << "\n"
                << "medmnist-build: no known layout in " << g_source.string()
                << " (the dataset's page in docs/datasets/ lists the layouts it reads)\n";
      return kFailure;
    }
    std::cerr << "medmnist-build: error: " << e.what() << "\n";
    return kInputError;
  } catch (const mmb::BuildInterrupted& e) {
    std::cerr << "medmnist-build: " << e.what() << "\n";
    return kInterrupted;
  } catch (const std::exception& e) {
    std::cerr << "medmnist-build: error: " << e.what() << "\n";
    return kFailure;
  }
}
