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

#include "common/core/version.h"
#include "common/npz/montage.h"
#include "common/pipeline/build.h"
#include "common/pipeline/check.h"

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

po::options_description source_options(const char* caption) {
  po::options_description d(caption);
  d.add_options()("help,h", "show this help")("source", po::value<std::string>(), "the raw dataset folder")(
      "manifests", po::value<std::string>(), "folder of manifests (default: the source tree's manifests/)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a manifest value: key=value (repeatable)")(
      "split", po::value<std::string>()->default_value("source"), "source | ratio[:7,1,2] | lists:DIR")(
      "group", po::value<std::string>(), "subject | none: keep subjects (patients, lesions) in one split, or not")(
      "seed", po::value<std::uint64_t>(), "seed for ratio splits (default: the manifest's)")(
      "index-map", po::value<std::string>(), "MedMNIST's split,index,image_id CSV: fixes membership and order")(
      "threads", po::value<int>()->default_value(0), "worker threads (0 = all cores; negative is an error)")(
      "json", "print the summary as one JSON object on stdout (schema: docs/cli.md)");
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
  if (vm.count("set"))
    for (const auto& s : vm["set"].as<std::vector<std::string>>()) {
      try {
        m.apply_override(s);
      } catch (const std::exception& e) {  // a bad --set is the command line's fault
        throw UsageError(e.what());
      }
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
  o.threads = vm["threads"].as<int>();
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
  if (vm.count("json")) std::cout << json.dump(2) << "\n";
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
  d.add_options()("dataset", po::value<std::vector<std::string>>(), "dataset flag");
  std::vector<std::string> flags;
  auto vm = parse(argc, argv, d, "dataset", &flags);
  if (vm.count("help")) return std::cout << "usage: medmnist-build check DATASET --source DIR\n" << d, kOk;
  if (flags.size() != 1) throw UsageError("check takes exactly one DATASET");
  flags[0] = canonical_flag(flags[0]);
  const auto& converter = converter_for(flags[0]);
  const auto m = load_manifest(flags[0], vm);
  const auto report = mmb::check_source(converter, m, build_options(vm));
  if (vm.count("json"))
    std::cout << check_json(m, report).dump(2) << "\n";
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
          {"skipped", problems_json(r.skipped)}, {"dropped", problems_json(r.dropped)}, {"warnings", r.warnings}};
}

void print_result(const mmb::Manifest& m, const mmb::BuildResult& r) {
  for (const auto& out : r.outputs) std::cout << "wrote " << out.npz.string() << " (sha256 " << out.sha256 << ")\n";
  std::cout << m.flag << ": train " << r.counts[0] << ", val " << r.counts[1] << ", test " << r.counts[2] << "\n";
  for (const auto& p : r.skipped) std::cerr << "skipped: " << p.message() << "\n";
  if (!r.dropped.empty()) std::cerr << m.flag << ": " << r.dropped.size() << " samples dropped by the recipe (see the sidecar)\n";
  for (const auto& w : r.warnings) std::cerr << "warning: " << m.flag << ": " << w << "\n";
}

int cmd_build(int argc, char** argv) {
  auto d = source_options("build options");
  d.add_options()("dataset", po::value<std::vector<std::string>>(), "dataset flags")(
      "out", po::value<std::string>(), "output folder")(
      "sizes", po::value<std::string>(), "comma-separated sizes (default: all the dataset has)")(
      "on-error", po::value<std::string>()->default_value("fail"), "fail | skip: stop at a bad input, or record it")(
      "no-compress", "write STORED members instead of DEFLATE")("quiet,q", "no progress output");
  std::vector<std::string> flags;
  auto vm = parse(argc, argv, d, "dataset", &flags);
  if (vm.count("help")) return std::cout << "usage: medmnist-build build DATASET... --source DIR --out DIR\n" << d, kOk;
  if (flags.empty()) throw UsageError("build needs at least one DATASET");
  if (!vm.count("out")) throw UsageError("--out DIR is required");
  auto o = build_options(vm);
  o.out_dir = vm["out"].as<std::string>();
  if (vm.count("sizes")) o.sizes = parse_sizes(vm["sizes"].as<std::string>());
  for (auto& flag : flags) flag = canonical_flag(flag);
  const auto on_error = vm["on-error"].as<std::string>();
  if (on_error != "fail" && on_error != "skip") throw UsageError("--on-error expects fail or skip");
  o.on_error = on_error == "skip" ? mmb::OnError::Skip : mmb::OnError::Fail;
  o.compress = !vm.count("no-compress");
  const bool json = vm.count("json") > 0;
  o.progress = !vm.count("quiet") && !json;
  // Datasets made by one converter are built in one pass over their source.
  std::vector<std::pair<const mmb::Converter*, std::vector<mmb::Manifest>>> passes;
  for (const auto& flag : flags) {
    const auto* c = &converter_for(flag);
    auto it = std::find_if(passes.begin(), passes.end(), [&](const auto& p) { return p.first == c; });
    if (it == passes.end()) it = passes.insert(passes.end(), {c, {}});
    it->second.push_back(load_manifest(flag, vm));
    if (!o.sizes.empty()) check_sizes(o.sizes, it->second.back());
  }
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
  if (json) std::cout << summary.dump(2) << "\n";
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
  throw UsageError("unknown command '" + cmd + "'" + did_you_mean(cmd, {"list", "check", "build", "montage"}) +
                   "\n" + kUsageText);
}

}  // namespace

int main(int argc, char** argv) {
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
