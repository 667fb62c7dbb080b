// Split planning: which samples go where, in which order.
#include <set>

#include "common/pipeline/build.h"
#include "common/split/split.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

std::array<double, 3> ratios_from(const std::vector<double>& v, const Manifest& m, const char* key) {
  if (v.size() != 3) throw std::runtime_error(m.file.string() + ": split." + key + " must have 3 numbers");
  return {v[0], v[1], v[2]};
}

// --split lists:DIR : membership from train.txt / val.txt / test.txt.
void assign_from_lists(std::vector<Sample>& samples, const fs::path& dir, SplitPlan& plan) {
  std::map<std::string, Split> named;
  for (Split s : kSplits) {
    const fs::path file = dir / (std::string(split_name(s)) + ".txt");
    for (const auto& name : read_name_list(file)) named.emplace(name, s);
  }
  std::set<std::string> seen;
  std::vector<Sample> kept;
  for (auto& s : samples) {
    auto it = named.find(s.id);
    if (it == named.end()) {
      plan.dropped.push_back(s.id);
      continue;
    }
    seen.insert(s.id);
    s.split = it->second;
    kept.push_back(std::move(s));
  }
  for (const auto& [name, split] : named)
    if (!seen.count(name)) plan.not_in_source.push_back(name);
  samples = std::move(kept);
}

}  // namespace

SplitPlan plan_splits(Enumeration e, const Manifest& m, const BuildOptions& o) {
  SplitPlan plan;
  if (o.index_map) {
    auto result = apply_index_map(std::move(e.samples), read_index_map(*o.index_map));
    plan.samples = std::move(result.ordered);
    plan.dropped = std::move(result.not_in_map);
    plan.not_in_source = std::move(result.not_in_source);
    plan.rule = "index map " + o.index_map->string() + " (membership and order)";
    return plan;
  }
  plan.grouped = o.group_by_subject.value_or(m.get_string("split.group", "subject") != "none");
  plan.group_from = o.group_by_subject ? "--group" : "manifest";
  plan.seed = o.seed.value_or(static_cast<std::uint64_t>(m.get_integer("split.seed", 0, 0, INT64_MAX)));
  plan.seed_from = o.seed ? "--seed" : "manifest";
  // "per-class" is MedMNIST's rule (common/split/split.h); "pooled" the older
  // round-half-up split of all samples at once, kept for manifests without the key.
  plan.method = m.get_string("split.method", "pooled");
  if (plan.method != "per-class" && plan.method != "pooled")
    throw std::runtime_error(m.file.string() + ": split.method must be \"per-class\" or \"pooled\", got \"" +
                             plan.method + "\"");
  auto ratios = o.ratios.value_or(e.ratios);
  plan.ratios_from = o.ratios ? "--split ratio:..." : "converter (manifest)";
  switch (o.split_mode) {
    case SplitMode::Source:
      plan.rule = e.split_rule;
      break;
    case SplitMode::Ratio:
      for (auto& s : e.samples) s.split = Split::Unassigned;
      if (!o.ratios) ratios = ratios_from(m.get_numbers("split.ratios", {7, 1, 2}), m, "ratios");
      if (!o.ratios) plan.ratios_from = "manifest split.ratios (--split ratio)";
      plan.rule = "ratio split of all samples (--split ratio)";
      break;
    case SplitMode::Lists:
      assign_from_lists(e.samples, o.lists_dir, plan);
      plan.rule = "list files in " + o.lists_dir.string();
      break;
  }
  plan.ratios = ratios;
  if (plan.method == "per-class") per_class_ratio_split(e.samples, ratios, plan.seed, plan.grouped);
  else grouped_ratio_split(e.samples, ratios, plan.seed, plan.grouped);
  if (o.split_mode == SplitMode::Lists)
    plan.rule += "; images in no list are left out";
  else
    plan.rule += std::string("; unassigned samples split ") + (plan.method == "per-class" ? "per class, " : "pooled, ") +
                 (plan.grouped ? "by subject" : "image by image");
  plan.samples = std::move(e.samples);
  order_by_split_then_id(plan.samples);
  return plan;
}

}  // namespace mmb
