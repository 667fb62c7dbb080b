// compare: see compare.h. Reads both .npz files whole (the largest official
// file, pathmnist_224, is 16 GB: comparing it needs that much memory twice).
#include "common/pipeline/compare.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "common/core/sample.h"
#include "common/manifest/manifest.h"
#include "common/npz/npz_reader.h"
#include "common/ops/geometry.h"
#include "common/ops/resize.h"
#include "common/pipeline/converter.h"
#include "common/pipeline/sidecar.h"
#include "common/split/split.h"

namespace mmb {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr const char* kSplitNames[3] = {"train", "val", "test"};

// ---------------------------------------------------------------------------
// The two files

struct SplitData {
  std::size_t n = 0, item_bytes = 0, label_width = 0;
  std::vector<std::size_t> item_shape;  // one image's shape
  std::vector<std::uint8_t> images, labels;
  std::vector<std::string> ids;  // empty: unknown
  const std::uint8_t* image(std::size_t i) const { return images.data() + i * item_bytes; }
  std::string label(std::size_t i) const {
    return std::string(labels.begin() + static_cast<std::ptrdiff_t>(i * label_width),
                       labels.begin() + static_cast<std::ptrdiff_t>((i + 1) * label_width));
  }
};

struct NpzData {
  fs::path file;
  std::array<SplitData, 3> splits;
  std::string ids_from;  // "sidecar", "index map" or ""
};

NpyArray read_u8(const fs::path& file, const std::vector<std::string>& keys, const std::string& key) {
  if (std::find(keys.begin(), keys.end(), key) == keys.end())
    throw std::runtime_error(file.string() + ": no member '" + key + ".npy'");
  NpyArray a = read_npz_array(file, key);
  if (a.descr != "|u1") throw std::runtime_error(file.string() + ": " + key + " is " + a.descr + ", not uint8");
  if (a.shape.empty()) throw std::runtime_error(file.string() + ": " + key + " has no sample axis");
  return a;
}

NpzData read_npz(const fs::path& file) {
  if (!fs::is_regular_file(file)) throw std::runtime_error(file.string() + ": no such file");
  NpzData d;
  d.file = file;
  const auto keys = list_npz_keys(file);
  for (int s = 0; s < 3; ++s) {
    SplitData& sd = d.splits[s];
    NpyArray img = read_u8(file, keys, std::string(kSplitNames[s]) + "_images");
    NpyArray lab = read_u8(file, keys, std::string(kSplitNames[s]) + "_labels");
    sd.n = img.shape[0];
    sd.item_shape.assign(img.shape.begin() + 1, img.shape.end());
    sd.item_bytes = std::accumulate(sd.item_shape.begin(), sd.item_shape.end(), std::size_t{1}, std::multiplies<>());
    if (lab.shape[0] != sd.n)
      throw std::runtime_error(file.string() + ": " + kSplitNames[s] + " has " + std::to_string(sd.n) + " images but " +
                               std::to_string(lab.shape[0]) + " labels");
    sd.label_width = lab.shape.size() > 1 ? lab.shape[1] : 1;
    sd.images = std::move(img.data);
    sd.labels = std::move(lab.data);
  }
  return d;
}

// The build's sidecar ({npz stem}.json beside it) lists the source ids of every split in file order.
bool read_sidecar_ids(NpzData& d) {
  const fs::path side = d.file.parent_path() / (d.file.stem().string() + ".json");
  if (!fs::is_regular_file(side)) return false;
  std::ifstream in(side);
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception&) {
    return false;
  }
  if (!doc.contains("source_ids")) return false;
  std::array<std::vector<std::string>, 3> ids;
  for (int s = 0; s < 3; ++s) {
    const auto& list = doc["source_ids"][kSplitNames[s]];
    if (!list.is_array() || list.size() != d.splits[s].n) return false;
    for (const auto& v : list) ids[s].push_back(v.get<std::string>());
  }
  for (int s = 0; s < 3; ++s) d.splits[s].ids = std::move(ids[s]);
  d.ids_from = "sidecar " + side.filename().string();
  return true;
}

// MedMNIST's split,index,image_id CSV: within a split, the file's order is the index order.
void apply_index_map_ids(NpzData& d, const fs::path& csv, json& notes) {
  const auto map = read_index_map(csv);
  std::array<std::vector<std::pair<std::size_t, std::string>>, 3> rows;
  for (const auto& [id, e] : map)
    if (e.split != Split::Unassigned) rows[static_cast<int>(e.split)].emplace_back(e.index, id);
  for (int s = 0; s < 3; ++s) {
    if (rows[s].size() != d.splits[s].n) {
      notes.push_back(csv.filename().string() + " names " + std::to_string(rows[s].size()) + " " + kSplitNames[s] +
                      " samples, " + d.file.filename().string() + " has " + std::to_string(d.splits[s].n) +
                      ": its ids are not used");
      return;
    }
  }
  for (int s = 0; s < 3; ++s) {
    std::sort(rows[s].begin(), rows[s].end());
    d.splits[s].ids.clear();
    for (auto& r : rows[s]) d.splits[s].ids.push_back(std::move(r.second));
  }
  d.ids_from = "index map " + csv.filename().string();
}

bool has_ids(const NpzData& d) { return !d.splits[0].ids.empty() || d.splits[0].n == 0; }

// ---------------------------------------------------------------------------
// Geometry of one sample

struct Geometry {
  int dim = 2, side = 0, channels = 1;
};

Geometry geometry_of(const std::vector<std::size_t>& shape, int manifest_dim) {
  Geometry g;
  if (shape.size() == 2) {
    g.side = static_cast<int>(shape[0]);
  } else if (shape.size() == 3 && (manifest_dim == 3 || (shape[2] != 3 && shape[0] == shape[2]))) {
    g.dim = 3;
    g.side = static_cast<int>(shape[0]);
  } else if (shape.size() == 3) {
    g.side = static_cast<int>(shape[0]);
    g.channels = static_cast<int>(shape[2]);
  } else {
    throw std::runtime_error("images of " + std::to_string(shape.size()) + " axes are not MedMNIST images");
  }
  return g;
}

Image as_image(const std::uint8_t* p, const Geometry& g) {
  Image img(g.side, g.side, g.dim == 3 ? g.side : 1, g.channels);
  std::copy(p, p + img.pixels.size(), img.pixels.begin());
  return img;
}

// ---------------------------------------------------------------------------
// Pairing

struct Pair {
  int split_a;
  std::size_t a;
  int split_b;
  std::size_t b;
  std::string id;  // OURS's id, "" if unknown
};

struct Pairing {
  std::string method;
  std::vector<Pair> pairs;
  json details = json::object();
};

Pairing pair_by_id(const NpzData& ours, const NpzData& other) {
  Pairing p;
  p.method = "id";
  std::map<std::string, std::pair<int, std::size_t>> where;
  for (int s = 0; s < 3; ++s)
    for (std::size_t i = 0; i < other.splits[s].ids.size(); ++i) where[other.splits[s].ids[i]] = {s, i};
  std::size_t ours_only = 0, moved = 0;
  for (int s = 0; s < 3; ++s)
    for (std::size_t i = 0; i < ours.splits[s].ids.size(); ++i) {
      const auto& id = ours.splits[s].ids[i];
      const auto it = where.find(id);
      if (it == where.end()) {
        ++ours_only;
        continue;
      }
      moved += it->second.first != s;
      p.pairs.push_back({s, i, it->second.first, it->second.second, id});
    }
  std::size_t other_total = 0;
  for (const auto& sd : other.splits) other_total += sd.n;
  p.details = {{"ours_ids_from", ours.ids_from},
               {"other_ids_from", other.ids_from},
               {"paired", p.pairs.size()},
               {"only_in_ours", ours_only},
               {"only_in_other", other_total - p.pairs.size()},
               {"in_another_split", moved}};
  return p;
}

std::optional<Pairing> pair_by_position(const NpzData& ours, const NpzData& other) {
  std::size_t total = 0, agree = 0;
  for (int s = 0; s < 3; ++s) {
    const auto &a = ours.splits[s], &b = other.splits[s];
    if (a.n != b.n || a.item_shape != b.item_shape || a.label_width != b.label_width) return std::nullopt;
    for (std::size_t i = 0; i < a.n; ++i) agree += a.label(i) == b.label(i);
    total += a.n;
  }
  if (total == 0 || agree < 0.95 * static_cast<double>(total)) return std::nullopt;
  Pairing p;
  p.method = "position";
  for (int s = 0; s < 3; ++s)
    for (std::size_t i = 0; i < ours.splits[s].n; ++i)
      p.pairs.push_back({s, i, s, i, ours.splits[s].ids.empty() ? "" : ours.splits[s].ids[i]});
  p.details = {{"paired", p.pairs.size()}, {"label_agreement", static_cast<double>(agree) / total}};
  return p;
}

// A 28-pixel gray thumbnail (28^3 for volumes), as floats.
std::vector<float> thumbnail(const std::uint8_t* p, const Geometry& g) {
  Image img = as_image(p, g);
  if (img.channels != 1) img = to_channels(img, 1);
  if (g.side != 28) img = resize(img, 28, 28, g.dim == 3 ? 28 : 1, ResizeKernel::Area);
  return {img.pixels.begin(), img.pixels.end()};
}

float distance2(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d += (a[i] - b[i]) * (a[i] - b[i]);
  return d;
}

Pairing pair_by_nearest_neighbour(const NpzData& ours, const NpzData& other, const Geometry& ga, const Geometry& gb,
                                  std::size_t cap) {
  Pairing p;
  p.method = "nearest neighbour within split and class (28 px)";
  std::size_t candidates = 0, capped_groups = 0;
  for (int s = 0; s < 3; ++s) {
    const auto &a = ours.splits[s], &b = other.splits[s];
    std::map<std::string, std::pair<std::vector<std::size_t>, std::vector<std::size_t>>> groups;
    for (std::size_t i = 0; i < a.n; ++i) groups[a.label(i)].first.push_back(i);
    for (std::size_t j = 0; j < b.n; ++j) groups[b.label(j)].second.push_back(j);
    for (auto& [label, members] : groups) {
      auto& [ia, ib] = members;
      if (ia.size() > cap || ib.size() > cap) ++capped_groups;
      ia.resize(std::min(ia.size(), cap));
      ib.resize(std::min(ib.size(), cap));
      if (ia.empty() || ib.empty()) continue;
      candidates += std::min(ia.size(), ib.size());
      std::vector<std::vector<float>> ta, tb;
      for (auto i : ia) ta.push_back(thumbnail(a.image(i), ga));
      for (auto j : ib) tb.push_back(thumbnail(b.image(j), gb));
      std::vector<std::size_t> best_a(ia.size()), best_b(ib.size());
      std::vector<float> dist_b(ib.size(), std::numeric_limits<float>::infinity());
      for (std::size_t x = 0; x < ia.size(); ++x) {
        float best = std::numeric_limits<float>::infinity();
        for (std::size_t y = 0; y < ib.size(); ++y) {
          const float d = distance2(ta[x], tb[y]);
          if (d < best) best = d, best_a[x] = y;
          if (d < dist_b[y]) dist_b[y] = d, best_b[y] = x;
        }
      }
      for (std::size_t x = 0; x < ia.size(); ++x)
        if (best_b[best_a[x]] == x)
          p.pairs.push_back({s, ia[x], s, ib[best_a[x]], a.ids.empty() ? "" : a.ids[ia[x]]});
    }
  }
  p.details = {{"paired", p.pairs.size()},
               {"candidates", candidates},
               {"unambiguous_share", candidates ? static_cast<double>(p.pairs.size()) / candidates : 0.0},
               {"groups_capped_at", capped_groups ? json(cap) : json(nullptr)}};
  return p;
}

// ---------------------------------------------------------------------------
// Statistics

struct Agreement {
  std::size_t pairs = 0, identical = 0, values = 0;
  double sum_abs = 0, sum_sq = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  int max_diff = 0;

  double add(const std::uint8_t* x, const std::uint8_t* y, std::size_t n) {
    std::uint64_t abs_sum = 0, sq = 0, xs = 0, ys = 0, xx = 0, yy = 0, xy = 0;
    int mx = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const int d = std::abs(int(x[i]) - int(y[i]));
      abs_sum += d, sq += d * d, mx = std::max(mx, d);
      xs += x[i], ys += y[i], xx += x[i] * x[i], yy += y[i] * y[i], xy += x[i] * y[i];
    }
    ++pairs, identical += abs_sum == 0, values += n;
    sum_abs += abs_sum, sum_sq += sq, sx += xs, sy += ys, sxx += xx, syy += yy, sxy += xy;
    max_diff = std::max(max_diff, mx);
    return static_cast<double>(abs_sum) / n;
  }

  json to_json() const {
    json j;
    j["pairs"] = pairs;
    j["identical_share"] = pairs ? static_cast<double>(identical) / pairs : 0.0;
    j["mean_abs_diff"] = values ? sum_abs / values : 0.0;
    j["max_diff"] = max_diff;
    const double mse = values ? sum_sq / values : 0.0;
    j["psnr_db"] = mse > 0 ? json(10 * std::log10(255.0 * 255.0 / mse)) : json(nullptr);  // null: identical
    const double n = static_cast<double>(values);
    const double vx = n * sxx - sx * sx, vy = n * syy - sy * sy;
    j["pearson_r"] = vx > 0 && vy > 0 ? json((n * sxy - sx * sy) / std::sqrt(vx * vy)) : json(nullptr);
    return j;
  }
};

std::string sample_name(const Pair& p) {
  return p.id.empty() ? std::string(kSplitNames[p.split_a]) + "[" + std::to_string(p.a) + "]" : p.id;
}

json labels_json(const std::string& l) {
  json j = json::array();
  for (unsigned char c : l) j.push_back(int(c));
  return j;
}

json agreement(const NpzData& ours, const NpzData& other, const Pairing& pairing, std::size_t listed) {
  std::array<Agreement, 3> per_split;
  Agreement all;
  std::vector<std::pair<double, const Pair*>> by_mad;
  json disagreements = json::array();
  std::size_t label_disagreements = 0;
  for (const Pair& p : pairing.pairs) {
    const auto &a = ours.splits[p.split_a], &b = other.splits[p.split_b];
    if (a.item_bytes != b.item_bytes) continue;
    const double mad = per_split[p.split_a].add(a.image(p.a), b.image(p.b), a.item_bytes);
    all.add(a.image(p.a), b.image(p.b), a.item_bytes);
    by_mad.emplace_back(mad, &p);
    if (a.label(p.a) != b.label(p.b)) {
      if (++label_disagreements <= listed)
        disagreements.push_back({{"sample", sample_name(p)},
                                 {"split", kSplitNames[p.split_a]},
                                 {"ours", labels_json(a.label(p.a))},
                                 {"other", labels_json(b.label(p.b))}});
    }
  }
  json j;
  for (int s = 0; s < 3; ++s) j["splits"][kSplitNames[s]] = per_split[s].to_json();
  j["all"] = all.to_json();
  std::stable_sort(by_mad.begin(), by_mad.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  json worst = json::array();
  for (std::size_t k = 0; k < by_mad.size() && k < listed && by_mad[k].first > 0; ++k) {
    const Pair& p = *by_mad[k].second;
    worst.push_back({{"sample", sample_name(p)}, {"split", kSplitNames[p.split_a]}, {"index_ours", p.a},
                     {"index_other", p.b}, {"mean_abs_diff", by_mad[k].first}});
  }
  j["worst"] = worst;
  j["label_disagreements"] = label_disagreements;
  j["label_disagreements_listed"] = disagreements;
  return j;
}

// ---------------------------------------------------------------------------
// Orientation

// A candidate orientation: the OTHER voxel read for output voxel (x, y, z).
struct Orientation {
  std::string name;
  std::function<std::array<int, 3>(int x, int y, int z, int n)> source;
};

std::vector<Orientation> orientations(int dim) {
  if (dim == 2)
    return {{"identity", [](int x, int y, int, int) { return std::array{x, y, 0}; }},
            {"flip left-right", [](int x, int y, int, int n) { return std::array{n - 1 - x, y, 0}; }},
            {"flip up-down", [](int x, int y, int, int n) { return std::array{x, n - 1 - y, 0}; }},
            {"rotate 180", [](int x, int y, int, int n) { return std::array{n - 1 - x, n - 1 - y, 0}; }},
            {"transpose", [](int x, int y, int, int) { return std::array{y, x, 0}; }},
            {"rotate 90 (np.rot90)", [](int x, int y, int, int n) { return std::array{n - 1 - y, x, 0}; }},
            {"rotate 270 (np.rot90 k=3)", [](int x, int y, int, int n) { return std::array{y, n - 1 - x, 0}; }},
            {"anti-transpose", [](int x, int y, int, int n) { return std::array{n - 1 - y, n - 1 - x, 0}; }}};
  // np.transpose(volume, axes) on (z, y, x) arrays: output axis k reads input axis axes[k].
  std::vector<Orientation> out;
  std::array<int, 3> axes{0, 1, 2};
  do {
    const auto ax = axes;
    out.push_back({"np.transpose(v, (" + std::to_string(ax[0]) + "," + std::to_string(ax[1]) + "," +
                       std::to_string(ax[2]) + "))",
                   [ax](int x, int y, int z, int) {
                     const std::array<int, 3> c{z, y, x};  // output coordinates, numpy order
                     std::array<int, 3> in{};
                     for (int k = 0; k < 3; ++k) in[ax[k]] = c[k];
                     return std::array{in[2], in[1], in[0]};  // back to (x, y, z)
                   }});
  } while (std::next_permutation(axes.begin(), axes.end()));
  out.front().name = "identity";
  return out;
}

json orientation_check(const NpzData& ours, const NpzData& other, const Pairing& pairing, const Geometry& g) {
  std::vector<const Pair*> picked;
  const std::size_t step = std::max<std::size_t>(1, pairing.pairs.size() / 256);
  for (std::size_t k = 0; k < pairing.pairs.size() && picked.size() < 256; k += step) picked.push_back(&pairing.pairs[k]);
  json table = json::array();
  double identity = 0, best = std::numeric_limits<double>::infinity();
  std::string best_name;
  const int n = g.side, depth = g.dim == 3 ? n : 1, c = g.channels;
  for (const auto& o : orientations(g.dim)) {
    double sum = 0;
    std::size_t values = 0;
    for (const Pair* p : picked) {
      const std::uint8_t* a = ours.splits[p->split_a].image(p->a);
      const std::uint8_t* b = other.splits[p->split_b].image(p->b);
      for (int z = 0; z < depth; ++z)
        for (int y = 0; y < n; ++y)
          for (int x = 0; x < n; ++x) {
            const auto s = o.source(x, y, z, n);
            const std::size_t ia = ((static_cast<std::size_t>(z) * n + y) * n + x) * c;
            const std::size_t ib = ((static_cast<std::size_t>(s[2]) * n + s[1]) * n + s[0]) * c;
            for (int k = 0; k < c; ++k) sum += std::abs(int(a[ia + k]) - int(b[ib + k]));
            values += c;
          }
    }
    const double mad = values ? sum / values : 0.0;
    if (o.name == "identity") identity = mad;
    if (mad < best) best = mad, best_name = o.name;
    table.push_back({{"orientation", o.name}, {"mean_abs_diff", mad}});
  }
  const bool suspect = best_name != "identity" && best < 0.5 * identity;
  return {{"samples", picked.size()}, {"candidates", table}, {"best", best_name}, {"suspect", suspect}};
}

// ---------------------------------------------------------------------------
// Kernels

json kernel_trial(const CompareOptions& o, const NpzData& other, const Pairing& pairing, const std::string& flag,
                  const Geometry& g) {
  if (!o.source) throw std::runtime_error("compare --kernels needs --source DIR (the raw dataset)");
  const Converter* converter = o.converter_for ? o.converter_for(flag) : nullptr;
  if (!converter) throw std::runtime_error("compare --kernels: no converter makes '" + flag + "'");
  Manifest m = o.manifest_dir ? load_manifest_for(flag, *o.manifest_dir) : load_manifest_for(flag);
  for (const auto& s : o.overrides) m.apply_override(s);
  const auto flags = converter->flags();
  const auto slot = std::find(flags.begin(), flags.end(), flag) - flags.begin();
  std::vector<const Manifest*> manifests(flags.size(), nullptr);
  manifests[slot] = &m;
  const Enumeration e = converter->enumerate_all(*o.source, manifests);
  std::map<std::string, const Sample*> by_id;
  for (const auto& s : e.samples)
    if (s.dataset == slot) by_id[s.id] = &s;
  std::vector<std::pair<const Sample*, const Pair*>> picked;
  std::vector<std::pair<const Sample*, const Pair*>> usable;
  for (const Pair& p : pairing.pairs)
    if (auto it = by_id.find(p.id); !p.id.empty() && it != by_id.end()) usable.emplace_back(it->second, &p);
  if (usable.empty())
    throw std::runtime_error("compare --kernels: no paired sample has an id found in " + o.source->string() +
                             " (pairing needs ids: OURS's sidecar, or --index-map)");
  const std::size_t want = std::min<std::size_t>(usable.size(), static_cast<std::size_t>(std::max(1, o.kernel_samples)));
  for (std::size_t k = 0; k < want; ++k) picked.push_back(usable[k * usable.size() / want]);
  // Samples outer, kernels inner: a unit (e.g. a CT volume) is read once per sample.
  struct Trial {
    std::string name;
    Manifest manifest;
    Agreement acc;
    std::string error;
  };
  std::vector<Trial> trials;
  for (ResizeKernel kernel : all_resize_kernels()) {
    if (g.dim == 3 && is_pil_kernel(kernel)) continue;
    Trial t{std::string(resize_kernel_name(kernel)), m, {}, {}};
    t.manifest.apply_override("preprocess.resize_kernel=\"" + t.name + "\"");
    trials.push_back(std::move(t));
  }
  for (const auto& [sample, pair] : picked) {
    const auto unit = converter->read_unit(*sample, m);
    const auto& b = other.splits[pair->split_b];
    for (Trial& t : trials) {
      if (!t.error.empty()) continue;
      try {
        const auto images = converter->render(*sample, t.manifest, {g.side}, unit.get());
        if (images.empty() || images[0].pixels.size() != b.item_bytes)
          throw std::runtime_error("the rebuilt sample does not have OTHER's shape");
        t.acc.add(images[0].pixels.data(), b.image(pair->b), b.item_bytes);
      } catch (const std::exception& ex) {
        t.error = ex.what();
      }
    }
  }
  json results = json::array();
  std::string best;
  double best_mad = std::numeric_limits<double>::infinity();
  for (const Trial& t : trials) {
    if (!t.error.empty()) {
      results.push_back({{"kernel", t.name}, {"error", t.error}});
      continue;
    }
    json r = t.acc.to_json();
    r["kernel"] = t.name;
    const double mad = r["mean_abs_diff"].get<double>();
    if (mad < best_mad) best_mad = mad, best = t.name;
    results.push_back(r);
  }
  return {{"samples", picked.size()}, {"results", results}, {"best", best}};
}

// ---------------------------------------------------------------------------
// Counts and classes

std::string flag_of(const fs::path& file) {
  std::string stem = file.stem().string();
  const auto us = stem.rfind('_');
  if (us != std::string::npos && us + 1 < stem.size() &&
      std::all_of(stem.begin() + static_cast<std::ptrdiff_t>(us + 1), stem.end(), ::isdigit))
    stem.resize(us);
  return stem;
}

json class_table(const NpzData& ours, const NpzData& other, std::size_t n_classes, bool multi_label) {
  json rows = json::array();
  const std::size_t width = multi_label ? ours.splits[0].label_width : 1;
  const std::size_t columns = multi_label ? width : n_classes;
  for (std::size_t k = 0; k < columns; ++k) {
    json row;
    row["class"] = k;
    for (int s = 0; s < 3; ++s) {
      std::array<std::size_t, 2> count{};
      for (int f = 0; f < 2; ++f) {
        const SplitData& sd = (f == 0 ? ours : other).splits[s];
        for (std::size_t i = 0; i < sd.n; ++i) {
          if (multi_label) count[f] += k < sd.label_width && sd.labels[i * sd.label_width + k] != 0;
          else count[f] += sd.labels[i * sd.label_width] == k;
        }
      }
      row[kSplitNames[s]] = {{"ours", count[0]}, {"other", count[1]},
                             {"diff", static_cast<long long>(count[0]) - static_cast<long long>(count[1])}};
    }
    rows.push_back(row);
  }
  return rows;
}

bool arrays_identical(const NpzData& a, const NpzData& b) {
  for (int s = 0; s < 3; ++s) {
    const auto &x = a.splits[s], &y = b.splits[s];
    if (x.n != y.n || x.item_shape != y.item_shape || x.label_width != y.label_width || x.images != y.images ||
        x.labels != y.labels)
      return false;
  }
  return true;
}

std::size_t largest_label(const NpzData& d) {
  std::size_t m = 0;
  for (const auto& sd : d.splits)
    for (auto v : sd.labels) m = std::max<std::size_t>(m, v);
  return m;
}

// medmnist/info.py v3.0.2 (github.com/MedMNIST/MedMNIST), Zenodo record 10519652.
struct OfficialFile {
  const char* flag;
  int size;
  const char* md5;
};
constexpr OfficialFile kOfficialFiles[] = {
    {"pathmnist", 28, "a8b06965200029087d5bd730944a56c1"},
    {"pathmnist", 64, "55aa9c1e0525abe5a6b9d8343a507616"},
    {"pathmnist", 128, "ac42d08fb904d92c244187169d1fd1d9"},
    {"pathmnist", 224, "2c51a510bcdc9cf8ddb2af93af1eadec"},
    {"chestmnist", 28, "02c8a6516a18b556561a56cbdd36c4a8"},
    {"chestmnist", 64, "9de6cd0b934ebb5b7426cfba5efbae16"},
    {"chestmnist", 128, "db107e5590b27930b62dbaf558aebee3"},
    {"chestmnist", 224, "45bd33e6f06c3e8cdb481c74a89152aa"},
    {"dermamnist", 28, "0744692d530f8e62ec473284d019b0c7"},
    {"dermamnist", 64, "b70a2f5635c6199aeaa28c31d7202e1f"},
    {"dermamnist", 128, "2defd784463fa5243564e855ed717de1"},
    {"dermamnist", 224, "8974907d8e169bef5f5b96bc506ae45d"},
    {"octmnist", 28, "c68d92d5b585d8d81f7112f81e2d0842"},
    {"octmnist", 64, "e229e9440236b774d9f0dfef9d07bdaf"},
    {"octmnist", 128, "0a97e76651ace45c5d943ee3f65b63ae"},
    {"octmnist", 224, "abc493b6d529d5de7569faaef2773ba3"},
    {"pneumoniamnist", 28, "28209eda62fecd6e6a2d98b1501bb15f"},
    {"pneumoniamnist", 64, "8f4eceb4ccffa70c672198ea285246c6"},
    {"pneumoniamnist", 128, "05b46931834c231683c68f40c47b2971"},
    {"pneumoniamnist", 224, "d6a3c71de1b945ea11211b03746c1fe1"},
    {"retinamnist", 28, "bd4c0672f1bba3e3a89f0e4e876791e4"},
    {"retinamnist", 64, "afda852cc34dcda56f86ad2b2457dbcc"},
    {"retinamnist", 128, "e48e916a24454daf90583d4e6efb1a18"},
    {"retinamnist", 224, "eae7e3b6f3fcbda4ae613ebdcbe35348"},
    {"breastmnist", 28, "750601b1f35ba3300ea97c75c52ff8f6"},
    {"breastmnist", 64, "742edef2a1fd1524b2efff4bd7ba9364"},
    {"breastmnist", 128, "363e4b3f8d712e9b5de15470a2aaadf1"},
    {"breastmnist", 224, "b56378a6eefa9fed602bb16d192d4c8b"},
    {"bloodmnist", 28, "7053d0359d879ad8a5505303e11de1dc"},
    {"bloodmnist", 64, "2b94928a2ae4916078ca51e05b6b800b"},
    {"bloodmnist", 128, "adace1e0ed228fccda1f39692059dd4c"},
    {"bloodmnist", 224, "b718ff6835fcbdb22ba9eacccd7b2601"},
    {"tissuemnist", 28, "ebe78ee8b05294063de985d821c1c34b"},
    {"tissuemnist", 64, "123ece2eba09d0aa5d698fda57103344"},
    {"tissuemnist", 128, "61b955355d7425a89687b06cca3ce0c2"},
    {"tissuemnist", 224, "b077128c4a949f0a4eb01517f9037b9c"},
    {"organamnist", 28, "68e3f8846a6bd62f0c9bf841c0d9eacc"},
    {"organamnist", 64, "2dcccc29b88e6da5a01161ef20cda288"},
    {"organamnist", 128, "eeae80d0a227a8d099027e1b3cfd3b60"},
    {"organamnist", 224, "50747347e05c87dd3aaf92c49f9f3170"},
    {"organcmnist", 28, "b9ceb9546e10131b32923c5bbeaea2b1"},
    {"organcmnist", 64, "3ce34a8724ea6f548e6db4744d03b6a9"},
    {"organcmnist", 128, "773c1f009daa3fe5d9a2a201b2a7ed94"},
    {"organcmnist", 224, "050f5e875dc056f6768abf94ec9995d1"},
    {"organsmnist", 28, "9ab87b696fb54e2a387ebe992d6ed5f1"},
    {"organsmnist", 64, "53a6d115339d874c25e309a994ff46d3"},
    {"organsmnist", 128, "ded0c5fa01a95dc4978b956f613e9b8e"},
    {"organsmnist", 224, "b354719e553fbbb2513d5533f52a4cb1"},
    {"organmnist3d", 28, "a0c5a1ff56af4f155c46d46fbb45a2fe"},
    {"organmnist3d", 64, "58a2205adf14a9d0a189cb06dc78bf10"},
    {"nodulemnist3d", 28, "8755a7e9e05a4d9ce80a24c3e7a256f3"},
    {"nodulemnist3d", 64, "c47c5b7d457bf6332200d2ea6d64ecd8"},
    {"adrenalmnist3d", 28, "bbd3c5a5576322bc4cdfea780653b1ce"},
    {"adrenalmnist3d", 64, "17721accfe9fb005146a47d33bc54b2f"},
    {"fracturemnist3d", 28, "6aa7b0143a6b42da40027a9dda61302f"},
    {"fracturemnist3d", 64, "f01d7e6316aedf4210da0da5b7437b42"},
    {"vesselmnist3d", 28, "b41fd4f7e7e2feedddb201585ecafa1b"},
    {"vesselmnist3d", 64, "6bb274a8846e1097066dcd64e2c4520f"},
    {"synapsemnist3d", 28, "1235b78a3cd6280881dd7850a78eadb6"},
    {"synapsemnist3d", 64, "43bd14ebf3af9d3dd072446fedc14d5e"},
};

}  // namespace

std::string official_md5(const std::string& flag, int size) {
  for (const auto& f : kOfficialFiles)
    if (flag == f.flag && size == f.size) return f.md5;
  return "";
}


json compare_npz(const CompareOptions& o) {
  NpzData ours = read_npz(o.ours), other = read_npz(o.other);
  json report;
  json notes = json::array();
  const std::string flag = o.flag.empty() ? flag_of(o.ours) : o.flag;
  std::optional<Manifest> manifest;
  try {
    manifest = o.manifest_dir ? load_manifest_for(flag, *o.manifest_dir) : load_manifest_for(flag);
  } catch (const std::exception& e) {
    notes.push_back("no manifest for '" + flag + "' (" + e.what() + "): INFO checks skipped");
  }
  const Geometry ga = geometry_of(ours.splits[0].item_shape, manifest ? manifest->dim : 0);
  const Geometry gb = geometry_of(other.splits[0].item_shape, manifest ? manifest->dim : 0);
  const int size = ga.side;

  read_sidecar_ids(ours);
  if (o.index_map) apply_index_map_ids(other, *o.index_map, notes);
  else read_sidecar_ids(other);

  // Files and MD5s
  const std::string info_md5 = official_md5(flag, size), info_md5_other = official_md5(flag, gb.side);
  for (auto [key, d, g, info] : {std::tuple{"ours", &ours, &ga, info_md5}, std::tuple{"other", &other, &gb, info_md5_other}}) {
    const std::string md5 = md5_file(d->file);
    json shape = json::array();
    for (auto v : d->splits[0].item_shape) shape.push_back(v);
    report["files"][key] = {{"file", d->file.string()}, {"size", g->side}, {"image_shape", shape},
                            {"md5", md5}, {"info_md5", info.empty() ? json(nullptr) : json(info)},
                            {"md5_matches_info", !info.empty() && md5 == info},
                            {"ids_from", d->ids_from.empty() ? json(nullptr) : json(d->ids_from)}};
  }
  report["flag"] = flag;
  report["size"] = size;

  // Counts
  for (int s = 0; s < 3; ++s) {
    json c = {{"ours", ours.splits[s].n}, {"other", other.splits[s].n}};
    c["info"] = manifest ? json(manifest->official_counts[s]) : json(nullptr);
    report["counts"][kSplitNames[s]] = c;
  }
  const bool multi_label = ours.splits[0].label_width > 1 || other.splits[0].label_width > 1;
  const std::size_t n_classes =
      manifest && !multi_label ? manifest->labels.size() : std::max(largest_label(ours), largest_label(other)) + 1;
  report["label_kind"] = multi_label ? "positives per label column" : "samples per class";
  report["classes"] = class_table(ours, other, n_classes, multi_label);

  // Pairing and agreement
  Pairing pairing;
  if (ga.dim != gb.dim || ga.side != gb.side || ga.channels != gb.channels) {
    pairing.method = "none";
    notes.push_back("the files hold images of different shapes: no per-sample comparison");
  } else if (has_ids(ours) && has_ids(other) && !ours.ids_from.empty() && !other.ids_from.empty()) {
    pairing = pair_by_id(ours, other);
  } else if (auto positional = pair_by_position(ours, other)) {
    pairing = std::move(*positional);
  } else {
    pairing = pair_by_nearest_neighbour(ours, other, ga, gb, o.max_match);
  }
  report["pairing"] = {{"method", pairing.method}};
  report["pairing"].update(pairing.details);
  if (!pairing.pairs.empty()) {
    report["agreement"] = agreement(ours, other, pairing, o.listed);
    report["orientation"] = orientation_check(ours, other, pairing, ga);
  }
  if (o.kernels) {
    if (pairing.pairs.empty()) throw std::runtime_error("compare --kernels: no samples could be paired");
    report["kernels"] = kernel_trial(o, other, pairing, flag, gb);
  }
  report["notes"] = notes;
  report["identical"] = arrays_identical(ours, other);
  return report;
}

// ---------------------------------------------------------------------------
// Text

namespace {

std::string fixed(double v, int digits = 3) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v;
  return out.str();
}

std::string number_or(const json& v, const char* none, int digits = 3) {
  return v.is_null() ? none : fixed(v.get<double>(), digits);
}

void agreement_line(std::ostringstream& out, const std::string& what, const json& a) {
  out << "  " << std::left << std::setw(8) << what << std::right << std::setw(8) << a["pairs"].get<std::size_t>()
      << std::setw(11) << fixed(100 * a["identical_share"].get<double>(), 1) + "%" << std::setw(10)
      << fixed(a["mean_abs_diff"].get<double>()) << std::setw(6) << a["max_diff"].get<int>() << std::setw(10)
      << number_or(a["psnr_db"], "inf", 2) << std::setw(9) << number_or(a["pearson_r"], "-", 4) << "\n";
}

}  // namespace

std::string format_compare_report(const json& r) {
  std::ostringstream out;
  out << "compare " << r["flag"].get<std::string>() << " at " << r["size"].get<int>() << " px\n";
  for (const char* key : {"ours", "other"}) {
    const auto& f = r["files"][key];
    out << "  " << std::left << std::setw(6) << key << std::right << f["file"].get<std::string>() << "\n"
        << "         md5 " << f["md5"].get<std::string>();
    if (f["info_md5"].is_null()) out << " (INFO has no file of this flag and size)\n";
    else out << (f["md5_matches_info"].get<bool>() ? " = INFO's MD5\n" : " != INFO's " + f["info_md5"].get<std::string>() + "\n");
    if (!f["ids_from"].is_null()) out << "         ids from " << f["ids_from"].get<std::string>() << "\n";
  }
  out << "\ncounts      ours     other      INFO\n";
  for (const char* s : kSplitNames) {
    const auto& c = r["counts"][s];
    out << "  " << std::left << std::setw(6) << s << std::right << std::setw(8) << c["ours"].get<std::size_t>()
        << std::setw(10) << c["other"].get<std::size_t>() << std::setw(10)
        << (c["info"].is_null() ? std::string("-") : std::to_string(c["info"].get<std::size_t>())) << "\n";
  }
  out << "\n" << r["label_kind"].get<std::string>() << " (ours/other, diff)\n  class";
  for (const char* s : kSplitNames) out << std::setw(22) << s;
  out << "\n";
  for (const auto& row : r["classes"]) {
    out << "  " << std::setw(5) << row["class"].get<std::size_t>();
    for (const char* s : kSplitNames) {
      const auto& c = row[s];
      const long long d = c["diff"].get<long long>();
      std::string cell = std::to_string(c["ours"].get<std::size_t>()) + "/" + std::to_string(c["other"].get<std::size_t>());
      cell += d ? " (" + std::string(d > 0 ? "+" : "") + std::to_string(d) + ")" : "";
      out << std::setw(22) << cell;
    }
    out << "\n";
  }
  const auto& p = r["pairing"];
  out << "\npairing: " << p["method"].get<std::string>();
  if (p.contains("paired")) out << ", " << p["paired"].get<std::size_t>() << " pairs";
  if (p.contains("only_in_ours"))
    out << " (" << p["only_in_ours"].get<std::size_t>() << " ids only in ours, " << p["only_in_other"].get<std::size_t>()
        << " only in other, " << p["in_another_split"].get<std::size_t>() << " in another split)";
  if (p.contains("unambiguous_share")) out << ", " << fixed(100 * p["unambiguous_share"].get<double>(), 1) << "% unambiguous";
  out << "\n";
  if (r.contains("agreement")) {
    const auto& a = r["agreement"];
    out << "\nagreement    pairs  identical  mean|d|  max  PSNR dB  Pearson\n";
    for (const char* s : kSplitNames) agreement_line(out, s, a["splits"][s]);
    agreement_line(out, "all", a["all"]);
    if (!a["worst"].empty()) {
      out << "worst samples (mean |d|):\n";
      for (const auto& w : a["worst"])
        out << "  " << w["sample"].get<std::string>() << " (" << w["split"].get<std::string>() << ")  "
            << fixed(w["mean_abs_diff"].get<double>()) << "\n";
    }
    out << "label disagreements: " << a["label_disagreements"].get<std::size_t>() << "\n";
    for (const auto& d : a["label_disagreements_listed"])
      out << "  " << d["sample"].get<std::string>() << " (" << d["split"].get<std::string>() << "): ours "
          << d["ours"].dump() << ", other " << d["other"].dump() << "\n";
  }
  if (r.contains("orientation")) {
    const auto& o = r["orientation"];
    out << "\norientation (OTHER transformed, mean |d| on " << o["samples"].get<std::size_t>() << " pairs)\n";
    for (const auto& c : o["candidates"])
      out << "  " << std::left << std::setw(32) << c["orientation"].get<std::string>() << std::right
          << fixed(c["mean_abs_diff"].get<double>()) << "\n";
    out << "  best: " << o["best"].get<std::string>()
        << (o["suspect"].get<bool>() ? "  <- OTHER looks reoriented relative to ours" : "") << "\n";
  }
  if (r.contains("kernels")) {
    const auto& k = r["kernels"];
    out << "\nkernels (" << k["samples"].get<std::size_t>() << " samples rebuilt from the source vs OTHER)\n";
    for (const auto& res : k["results"]) {
      out << "  " << std::left << std::setw(14) << res["kernel"].get<std::string>() << std::right;
      if (res.contains("error")) out << "error: " << res["error"].get<std::string>() << "\n";
      else out << " mean|d| " << fixed(res["mean_abs_diff"].get<double>()) << "  identical "
               << fixed(100 * res["identical_share"].get<double>(), 1) << "%  max " << res["max_diff"].get<int>() << "\n";
    }
    out << "  best: " << k["best"].get<std::string>() << "\n";
  }
  for (const auto& n : r["notes"]) out << "note: " << n.get<std::string>() << "\n";
  out << "\n" << (r["identical"].get<bool>() ? "identical arrays" : "the files differ") << "\n";
  return out.str();
}

}  // namespace mmb
