#include "common/split/split.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "common/io/csv.h"
#include "common/io/files.h"

namespace mmb {

// ---------------------------------------------------------------- hashing --

namespace {

// splitmix64 finaliser: a fixed, well-mixed bijection on 64 bits.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// FNV-1a 64 over the bytes, independent of char signedness and of std::hash.
std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

}  // namespace

std::uint64_t group_hash(std::uint64_t seed, std::string_view key) {
  // Seed goes through splitmix64 first so nearby seeds (0, 1, 2) give
  // unrelated orders rather than a shared low-bit pattern.
  return splitmix64(fnv1a64(key) ^ splitmix64(seed));
}

// ---------------------------------------------------------------- targets --

namespace {

void check_ratios(const std::array<double, 3>& ratios) {
  for (double r : ratios)
    if (!std::isfinite(r) || r < 0)
      throw std::invalid_argument("split ratios must be finite and non-negative");
}

// Round half up; exact for integer ratios because N*r/sum of integers is
// correctly rounded and an exact .5 stays exact.
std::size_t round_share(std::size_t n, double ratio, double sum) {
  if (ratio == 0) return 0;  // a zero ratio means none, never a rounded-up one
  return static_cast<std::size_t>(std::floor(static_cast<double>(n) * ratio / sum + 0.5));
}

}  // namespace

SplitTargets split_targets(std::size_t n, const std::array<double, 3>& ratios) {
  check_ratios(ratios);
  SplitTargets t;
  if (n == 0) return t;  // nothing to split: any ratios (even all zero) are fine
  const double sum = ratios[0] + ratios[1] + ratios[2];
  if (sum <= 0) throw std::invalid_argument("split ratios sum to zero");
  // Clamp so train never goes negative when rounding both up overshoots N
  // (only possible when train's share is below one sample).
  t.test = std::min(round_share(n, ratios[2], sum), n);
  t.val = std::min(round_share(n, ratios[1], sum), n - t.test);
  t.train = n - t.val - t.test;
  return t;
}

// ---------------------------------------------------------- grouped split --

namespace {

struct Group {
  std::uint64_t hash = 0;
  std::string key;                  // tagged: "s:" subject or "i:" id
  std::vector<std::size_t> members; // indices into the sample vector
  Split split = Split::Unassigned;
};

// Subjects and ids live in separate namespaces, so a subject "x" never merges
// with an unrelated ungrouped sample whose id happens to be "x".
std::string group_key(const Sample& s, bool group_by_subject) {
  if (group_by_subject && !s.subject.empty()) return "s:" + s.subject;
  return "i:" + s.id;
}

// Unassigned samples gathered into groups, in a canonical order: by hash,
// ties by key. Neither the input order nor std::hash can affect it.
std::vector<Group> collect_groups(const std::vector<Sample>& samples, std::uint64_t seed,
                                  bool group_by_subject) {
  std::vector<Group> groups;
  std::unordered_map<std::string, std::size_t> where;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].split != Split::Unassigned) continue;
    std::string key = group_key(samples[i], group_by_subject);
    auto [it, fresh] = where.try_emplace(key, groups.size());
    if (fresh) groups.push_back({group_hash(seed, key), std::move(key), {}, Split::Unassigned});
    groups[it->second].members.push_back(i);
  }
  std::sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
    return std::tie(a.hash, a.key) < std::tie(b.hash, b.key);
  });
  return groups;
}

// Greedy fill: groups in hash order, skipping any that would overshoot, until
// the target is met. Singletons make it exact; otherwise it falls short by
// less than the smallest group left unassigned.
void fill(std::vector<Group>& groups, std::size_t target, Split split) {
  for (Group& g : groups) {
    if (target == 0) return;
    if (g.split != Split::Unassigned || g.members.size() > target) continue;
    g.split = split;
    target -= g.members.size();
  }
}

}  // namespace

void grouped_ratio_split(std::vector<Sample>& samples, const std::array<double, 3>& ratios,
                         std::uint64_t seed, bool group_by_subject) {
  std::vector<Group> groups = collect_groups(samples, seed, group_by_subject);
  std::size_t n = 0;
  for (const Group& g : groups) n += g.members.size();
  const SplitTargets t = split_targets(n, ratios);
  // Test first: it is the split whose size matters most for comparisons.
  fill(groups, t.test, Split::Test);
  fill(groups, t.val, Split::Val);
  for (Group& g : groups) {
    if (g.split == Split::Unassigned) g.split = Split::Train;
    for (std::size_t i : g.members) samples[i].split = g.split;
  }
}

// ------------------------------------------------ MedMNIST's per-class rule --

ClassCut medmnist_class_cut(std::size_t n, const std::array<double, 3>& ratios) {
  check_ratios(ratios);
  ClassCut cut;
  if (n == 0) return cut;
  const double sum = ratios[0] + ratios[1] + ratios[2];
  if (sum <= 0) throw std::invalid_argument("split ratios sum to zero");
  // Integer ratios give the correctly rounded fractions, i.e. the very doubles
  // Python's literals 0.7, 0.8, 0.9 denote; one multiply, then truncation.
  const double c1 = ratios[0] / sum, c2 = (ratios[0] + ratios[1]) / sum;
  const auto truncated = [n](double c) {
    return std::min(static_cast<std::size_t>(static_cast<double>(n) * c), n);
  };
  cut.train = truncated(c1);
  const std::size_t train_val = std::max(truncated(c2), cut.train);
  cut.val = train_val - cut.train;
  cut.test = n - train_val;
  return cut;
}

namespace {

// The label a group is stratified by: its most frequent label vector, ties to
// the smallest (std::map order), so a group of one sample takes that label.
std::vector<std::uint8_t> stratum_label(const Group& g, const std::vector<Sample>& samples) {
  std::map<std::vector<std::uint8_t>, std::size_t> count;
  for (std::size_t i : g.members) ++count[samples[i].label];
  auto best = count.begin();
  for (auto it = count.begin(); it != count.end(); ++it)
    if (it->second > best->second) best = it;
  return best->first;
}

}  // namespace

void per_class_ratio_split(std::vector<Sample>& samples, const std::array<double, 3>& ratios,
                           std::uint64_t seed, bool group_by_subject) {
  check_ratios(ratios);
  // Groups come in hash order; bucketing keeps that order inside each stratum.
  std::map<std::vector<std::uint8_t>, std::vector<Group>> strata;
  for (Group& g : collect_groups(samples, seed, group_by_subject))
    strata[stratum_label(g, samples)].push_back(std::move(g));
  for (auto& [label, groups] : strata) {
    std::size_t n = 0;
    for (const Group& g : groups) n += g.members.size();
    const ClassCut cut = medmnist_class_cut(n, ratios);
    fill(groups, cut.test, Split::Test);
    fill(groups, cut.val, Split::Val);
    for (Group& g : groups) {
      if (g.split == Split::Unassigned) g.split = Split::Train;
      for (std::size_t i : g.members) samples[i].split = g.split;
    }
  }
}

// ------------------------------------------------------------- text files --

// ------------------------------------------------------------- list files --

std::vector<std::string> read_name_list(const std::filesystem::path& file) {
  std::vector<std::string> names;
  std::size_t number = 0;
  for (const std::string& line : read_lines(file)) {
    ++number;
    try {
      require_utf8(line);
    } catch (const std::invalid_argument& err) {
      throw InputError(file.string() + ":" + std::to_string(number), err.what());
    }
    std::istringstream words(line);  // \r and other blanks are separators
    std::string first;
    if (words >> first) names.push_back(std::move(first));
  }
  return names;
}

std::set<std::string> read_expected_names(const std::filesystem::path& list) {
  std::set<std::string> names;
  const auto lines = read_lines(list);
  const bool csv = std::any_of(lines.begin(), lines.end(),
                               [](const std::string& l) { return l.find(',') != std::string::npos; });
  if (csv) {
    for (const auto& [id, entry] : read_index_map(list)) names.insert(id);
  } else {
    for (const auto& name : read_name_list(list)) names.insert(name);
  }
  return names;
}

void compare_with_expected_list(const std::filesystem::path& list, Enumeration& e) {
  if (list.empty()) return;
  auto expected = read_expected_names(list);
  for (const auto& s : e.samples)
    if (!expected.erase(s.id)) e.unexpected.push_back(s.path);
  e.missing.assign(expected.begin(), expected.end());
  e.notes.push_back("expected images from " + list.string());
}

// -------------------------------------------------------------- index map --

namespace {

// Fields with surrounding blanks (and a stray CR) removed: quoted or not, an
// image id never starts or ends with a space.
bool split_row(const std::string& row, std::vector<std::string>& fields) {
  try {
    fields = split_csv_line(row);
  } catch (const std::invalid_argument&) {
    return false;
  }
  for (std::string& f : fields) f = trim(f);
  return true;
}

bool parse_index(const std::string& text, std::size_t& out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc() && p == end;
}

// Errors name "file:line" in the path text, the same shape as Problem::where.
[[noreturn]] void row_error(const std::filesystem::path& csv, std::size_t line,
                            const std::string& reason) {
  throw InputError(csv.string() + ":" + std::to_string(line), reason);
}

}  // namespace

std::map<std::string, IndexMapEntry> read_index_map(const std::filesystem::path& csv) {
  std::map<std::string, IndexMapEntry> map;
  std::map<std::pair<Split, std::size_t>, std::size_t> slot_line;  // (split,index) -> line
  std::map<std::string, std::size_t> id_line;
  const std::vector<std::string> lines = read_lines(csv);
  std::vector<std::string> f;
  bool first_row = true;
  for (std::size_t n = 1; n <= lines.size(); ++n) {
    if (trim(lines[n - 1]).empty()) continue;
    try {
      require_utf8(lines[n - 1]);
    } catch (const std::invalid_argument& err) {
      row_error(csv, n, err.what());
    }
    if (!split_row(lines[n - 1], f)) row_error(csv, n, "unbalanced quotes");
    if (f.size() != 3)
      row_error(csv, n, "expected 3 fields (split,index,image_id), got " + std::to_string(f.size()));
    IndexMapEntry e{};
    const bool numeric = parse_index(f[1], e.index);
    // Only the first row may be a header, recognised by its non-numeric index.
    if (std::exchange(first_row, false) && !numeric) continue;
    if (!numeric) row_error(csv, n, "index '" + f[1] + "' is not a non-negative integer");
    try {
      e.split = parse_split(f[0]);
    } catch (const std::invalid_argument& err) {
      row_error(csv, n, err.what());
    }
    if (f[2].empty()) row_error(csv, n, "empty image_id");
    if (auto [it, fresh] = id_line.try_emplace(f[2], n); !fresh)
      row_error(csv, n, "duplicate image_id '" + f[2] + "' (first on line " +
                            std::to_string(it->second) + ")");
    if (auto [it, fresh] = slot_line.try_emplace({e.split, e.index}, n); !fresh)
      row_error(csv, n, std::string("duplicate ") + split_name(e.split) + " index " + f[1] +
                            " (first on line " + std::to_string(it->second) + ")");
    map.emplace(f[2], e);
  }
  return map;
}

std::string image_id_key(const std::string& id) {
  const auto dot = id.rfind('.');
  if (dot == std::string::npos) return id;
  static const std::set<std::string> kImageExtensions = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"};
  return kImageExtensions.count(to_lower(id.substr(dot))) ? id.substr(0, dot) : id;
}

IndexMapResult apply_index_map(std::vector<Sample> samples,
                               const std::map<std::string, IndexMapEntry>& map) {
  IndexMapResult r;
  std::vector<std::pair<std::size_t, Sample>> kept;  // (index, sample)
  std::set<std::string> seen;                         // map ids enumerated
  // A map may write "ISIC_0024306.jpg" where the source's id is "ISIC_0024306" (or the
  // reverse): ids that differ only by an image extension match when no id matches exactly.
  std::map<std::string, std::map<std::string, IndexMapEntry>::const_iterator> by_key;
  for (auto it = map.begin(); it != map.end(); ++it) by_key.emplace(image_id_key(it->first), it);
  for (Sample& s : samples) {
    auto it = map.find(s.id);
    if (it == map.end())
      if (auto k = by_key.find(image_id_key(s.id)); k != by_key.end()) it = k->second;
    if (it == map.end()) {
      r.not_in_map.push_back(s.id);
      continue;
    }
    // Two samples on one map slot would silently duplicate an output image.
    if (!seen.insert(it->first).second) throw InputError(s.path, "id '" + s.id + "' enumerated twice");
    s.split = it->second.split;
    kept.emplace_back(it->second.index, std::move(s));
  }
  for (const auto& [id, entry] : map)
    if (!seen.count(id)) r.not_in_source.push_back(id);
  // (split, index) is unique in a map from read_index_map; stable in case a
  // hand-built map repeats one.
  std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return std::pair(a.second.split, a.first) < std::pair(b.second.split, b.first);
  });
  r.ordered.reserve(kept.size());
  for (auto& k : kept) r.ordered.push_back(std::move(k.second));
  return r;
}

// ---------------------------------------------------------------- ordering --

void order_by_split_then_id(std::vector<Sample>& samples) {
  // Split enum values are already train < val < test < unassigned. Samples of
  // one unit (a CT volume) stay together so the unit is read once.
  std::stable_sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
    return std::tie(a.split, a.unit, a.id) < std::tie(b.split, b.unit, b.id);
  });
}

}  // namespace mmb
