// medmnist-build: a thin command line over common/ and converters/.
//
// Exit codes (also in README.md):
//   0  success (skipped inputs, if any, are listed in the .json sidecars)
//   1  a source input is missing, truncated or malformed (--on-error fail),
//      or `check` found problems
//   2  usage error
//   3  any other failure (unknown layout, bad manifest, cannot write output)
//   130 interrupted (SIGINT/SIGTERM); no .npz was left behind
#include <boost/program_options.hpp>
#include <algorithm>
#include <iostream>
#include <sstream>

#include "common/npz/montage.h"
#include "common/pipeline/build.h"
#include "common/pipeline/check.h"
#include "common/pipeline/settings.h"

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

constexpr int kOk = 0, kInputError = 1, kUsage = 2, kFailure = 3, kInterrupted = 130;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* kUsageText =
    "usage: medmnist-build <command> [options]\n"
    "commands:\n"
    "  list                         the datasets and the source each one needs\n"
    "  check DATASET --source DIR   validate a source tree; writes nothing\n"
    "  build DATASET... --source DIR --out DIR [options]\n"
    "  montage FILE.npz --split S   a grid of samples (PNG; GIF of slices for 3D)\n"
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

po::options_description source_options() {
  po::options_description d("source options");
  d.add_options()("help,h", "show this help")("source", po::value<std::string>(), "the raw dataset folder")(
      "manifests", po::value<std::string>(), "folder of manifests (default: the source tree's manifests/)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a manifest value: key=value (repeatable)")(
      "split", po::value<std::string>()->default_value("source"), "source | ratio[:7,1,2] | lists:DIR (DIR/train.txt, val.txt, test.txt: one sample id a line, first word; ids in no list are left out and reported)")(
      "group", po::value<std::string>(), "subject | none: keep subjects (patients, lesions) in one split, or not")(
      "seed", po::value<std::uint64_t>(), "seed for ratio splits (default: the manifest's)")(
      "index-map", po::value<std::string>(), "MedMNIST's split,index,image_id CSV: fixes membership and order")(
      "threads", po::value<int>()->default_value(0), "worker threads (0 = all cores)");
  return d;
}

po::variables_map parse(int argc, char** argv, const po::options_description& d, const char* positional,
                        std::vector<std::string>* names = nullptr) {
  po::positional_options_description p;
  if (positional) p.add(positional, -1);
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(d).positional(p).run(), vm);
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
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return m;
}

const mmb::Converter& converter_for(const std::string& flag) {
  const auto* c = mmb::find_converter(flag);
  if (!c) throw UsageError("unknown dataset '" + flag + "' (see 'medmnist-build list')");
  return *c;
}

mmb::BuildOptions build_options(const po::variables_map& vm) {
  mmb::BuildOptions o;
  if (!vm.count("source")) throw UsageError("--source DIR is required");
  o.source = vm["source"].as<std::string>();
  o.threads = vm["threads"].as<int>();
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

int cmd_list() {
  for (const auto& c : mmb::all_converters())
    for (const auto& flag : c->flags()) {
      const auto m = mmb::load_manifest_for(flag);
      std::cout << flag << " (" << m.python_class << ", " << m.dim << "D, sizes";
      for (int s : m.sizes) std::cout << " " << s;
      std::cout << ")\n    source: " << c->source_summary() << "\n";
    }
  return kOk;
}

int cmd_check(int argc, char** argv) {
  auto d = source_options();
  d.add_options()("dataset", po::value<std::vector<std::string>>(), "dataset flag")(
      "deep", "decode every image and NIfTI volume as build would (slow); without it, check reads only signatures, "
              "headers, sizes and end markers, which miss corrupt compressed data");
  std::vector<std::string> flags;
  auto vm = parse(argc, argv, d, "dataset", &flags);
  if (vm.count("help")) return std::cout << "usage: medmnist-build check DATASET --source DIR\n" << d, kOk;
  if (flags.size() != 1) throw UsageError("check takes exactly one DATASET");
  const auto& converter = converter_for(flags[0]);
  const auto m = load_manifest(flags[0], vm);
  auto options = build_options(vm);
  options.deep_check = vm.count("deep") > 0;
  const auto report = mmb::check_source(converter, m, options);
  std::cout << mmb::format_check_report(m, report);
  return report.ok() ? kOk : kInputError;
}

void print_result(const mmb::Manifest& m, const mmb::BuildResult& r) {
  for (const auto& out : r.outputs) std::cout << "wrote " << out.npz.string() << " (sha256 " << out.sha256 << ")\n";
  std::cout << m.flag << ": train " << r.counts[0] << ", val " << r.counts[1] << ", test " << r.counts[2] << "\n";
  for (const auto& p : r.skipped) std::cerr << "skipped: " << p.message() << "\n";
  if (!r.dropped.empty()) std::cerr << m.flag << ": " << r.dropped.size() << " samples dropped by the recipe (see the sidecar)\n";
  for (const auto& w : r.warnings) std::cerr << "warning: " << m.flag << ": " << w << "\n";
}

int cmd_build(int argc, char** argv) {
  auto d = source_options();
  d.add_options()("dataset", po::value<std::vector<std::string>>(), "dataset flags")(
      "out", po::value<std::string>(), "output folder")(
      "sizes", po::value<std::string>(), "comma-separated sizes (default: all the dataset has)")(
      "on-error", po::value<std::string>()->default_value("fail"), "fail | skip: stop at a bad input, or record it")(
      "no-compress", "write STORED members instead of DEFLATE")(
      "strict", "known source quirks (e.g. LIDC series pylidc cannot cluster) stop the build instead of being skipped")("quiet,q", "no progress output");
  std::vector<std::string> flags;
  auto vm = parse(argc, argv, d, "dataset", &flags);
  if (vm.count("help")) return std::cout << "usage: medmnist-build build DATASET... --source DIR --out DIR\n" << d, kOk;
  if (flags.empty()) throw UsageError("build needs at least one DATASET");
  if (!vm.count("out")) throw UsageError("--out DIR is required");
  auto o = build_options(vm);
  o.out_dir = vm["out"].as<std::string>();
  if (vm.count("sizes")) o.sizes = parse_sizes(vm["sizes"].as<std::string>());
  const auto on_error = vm["on-error"].as<std::string>();
  if (on_error != "fail" && on_error != "skip") throw UsageError("--on-error expects fail or skip");
  o.on_error = on_error == "skip" ? mmb::OnError::Skip : mmb::OnError::Fail;
  o.compress = !vm.count("no-compress");
  o.strict = vm.count("strict") > 0;
  o.progress = !vm.count("quiet");
  // Datasets made by one converter are built in one pass over their source.
  std::vector<std::pair<const mmb::Converter*, std::vector<mmb::Manifest>>> passes;
  for (const auto& flag : flags) {
    const auto* c = &converter_for(flag);
    auto it = std::find_if(passes.begin(), passes.end(), [&](const auto& p) { return p.first == c; });
    if (it == passes.end()) it = passes.insert(passes.end(), {c, {}});
    it->second.push_back(load_manifest(flag, vm));
  }
  for (const auto& [converter, manifests] : passes) {
    const auto results = mmb::build_datasets(*converter, manifests, o);
    for (std::size_t i = 0; i < results.size(); ++i) print_result(manifests[i], results[i]);
  }
  return kOk;
}

int cmd_montage(int argc, char** argv) {
  po::options_description d("montage options");
  d.add_options()("help,h", "show this help")("file", po::value<std::vector<std::string>>(), "the .npz")(
      "split", po::value<std::string>()->default_value("train"), "train | val | test")(
      "length", po::value<int>()->default_value(10), "grid side, in samples")(
      "seed", po::value<unsigned>()->default_value(0), "0 = the first samples, else a seeded random choice")(
      "out", po::value<std::string>(), "output file (default: <npz stem>_<split>_montage.png|gif)");
  std::vector<std::string> files;
  auto vm = parse(argc, argv, d, "file", &files);
  if (vm.count("help")) return std::cout << "usage: medmnist-build montage FILE.npz --split S\n" << d, kOk;
  if (files.size() != 1) throw UsageError("montage takes exactly one FILE.npz");
  const fs::path npz = files[0];
  const std::string split = vm["split"].as<std::string>();
  fs::path out = vm.count("out") ? fs::path(vm["out"].as<std::string>())
                                 : npz.parent_path() / (npz.stem().string() + "_" + split + "_montage");
  mmb::MontageOptions mo;
  mo.length = vm["length"].as<int>();
  mo.seed = vm["seed"].as<unsigned>();
  std::cout << "wrote " << mmb::write_montage(npz, split, out, mo).string() << "\n";
  return kOk;
}

int dispatch(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")
    return std::cout << kUsageText, argc < 2 ? kUsage : kOk;
  const std::string cmd = argv[1];
  if (cmd == "list") return cmd_list();
  if (cmd == "check") return cmd_check(argc - 1, argv + 1);
  if (cmd == "build") return cmd_build(argc - 1, argv + 1);
  if (cmd == "montage") return cmd_montage(argc - 1, argv + 1);
  throw UsageError("unknown command '" + cmd + "'\n" + kUsageText);
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
