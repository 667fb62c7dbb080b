// pylidc's cluster_annotations and the malignancy aggregation; see lidc_consensus.h.
#include "converters/lidc_consensus.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>

namespace mmb::lidc {
namespace {

struct Bounds {
  IndexPoint lo, hi;
};

Bounds bounds_of(const Annotation& a) {
  Bounds b{a.points.front(), a.points.front()};
  for (const auto& p : a.points)
    for (int c = 0; c < 3; ++c) b.lo[c] = std::min(b.lo[c], p[c]), b.hi[c] = std::max(b.hi[c], p[c]);
  return b;
}

// A lower bound of the point distance: the gap between the bounding boxes.
double box_gap(const Bounds& a, const Bounds& b) {
  double sum = 0;
  for (int c = 0; c < 3; ++c) {
    const int gap = std::max({0, b.lo[c] - a.hi[c], a.lo[c] - b.hi[c]});
    sum += static_cast<double>(gap) * gap;
  }
  return std::sqrt(sum);
}

// Connected components of D <= tol, numbered as scipy's connected_components
// numbers them: in order of each component's first node.
std::vector<int> components(const std::vector<double>& distance, std::size_t n, double tol) {
  std::vector<int> label(n, -1);
  int next = 0;
  for (std::size_t start = 0; start < n; ++start) {
    if (label[start] >= 0) continue;
    std::vector<std::size_t> stack{start};
    label[start] = next;
    while (!stack.empty()) {
      const std::size_t i = stack.back();
      stack.pop_back();
      for (std::size_t j = 0; j < n; ++j)
        if (label[j] < 0 && distance[i * n + j] <= tol) label[j] = next, stack.push_back(j);
    }
    ++next;
  }
  return label;
}

std::size_t largest_component(const std::vector<int>& label) {
  std::map<int, std::size_t> size;
  std::size_t most = 0;
  for (int l : label) most = std::max(most, ++size[l]);
  return most;
}

}  // namespace

std::array<double, 3> Annotation::centroid() const {
  std::array<double, 3> sum{0, 0, 0};
  for (const auto& p : points)
    for (int c = 0; c < 3; ++c) sum[c] += p[c];
  for (auto& s : sum) s /= static_cast<double>(points.size());
  return sum;
}

int nearest_slice(const std::vector<double>& slice_z, double z) {
  if (slice_z.empty()) throw std::invalid_argument("no slices to place a contour on");
  std::size_t best = 0;
  for (std::size_t k = 1; k < slice_z.size(); ++k)
    if (std::abs(slice_z[k] - z) < std::abs(slice_z[best] - z)) best = k;  // strict: the first minimum wins
  return static_cast<int>(best);
}

Annotation to_index_space(const ReaderNodule& nodule, const std::vector<double>& slice_z) {
  std::vector<const Roi*> rois;
  for (const auto& r : nodule.rois) rois.push_back(&r);
  std::stable_sort(rois.begin(), rois.end(), [](const Roi* a, const Roi* b) { return a->z < b->z; });
  Annotation a;
  a.malignancy = nodule.malignancy;
  a.reader = nodule.reader;
  a.nodule_id = nodule.nodule_id;
  a.line = nodule.line;
  for (const Roi* r : rois) {
    const int k = nearest_slice(slice_z, r->z);
    for (const auto& [x, y] : r->points) a.points.push_back({y, x, k});
  }
  return a;
}

double min_point_distance(const Annotation& a, const Annotation& b) {
  long long best = std::numeric_limits<long long>::max();
  for (const auto& p : a.points)
    for (const auto& q : b.points) {
      long long d2 = 0;
      for (int c = 0; c < 3; ++c) d2 += static_cast<long long>(p[c] - q[c]) * (p[c] - q[c]);
      best = std::min(best, d2);
    }
  return std::sqrt(static_cast<double>(best));  // exact squares of integers: the same double as cdist
}

Clustering cluster_annotations(const std::vector<Annotation>& annotations, const ClusterOptions& options) {
  const std::size_t n = annotations.size();
  Clustering out;
  out.tol = options.tol;
  if (n == 0) return out;
  if (n == 1) {
    out.clusters = {{0}};
    return out;
  }
  for (const auto& a : annotations)
    if (a.points.empty()) throw std::invalid_argument("an annotation without contour points cannot be clustered");
  // Pairs whose boxes are farther apart than the first tol are never adjacent
  // (tol only shrinks), so the box gap stands in for their exact distance.
  std::vector<Bounds> boxes;
  for (const auto& a : annotations) boxes.push_back(bounds_of(a));
  std::vector<double> distance(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      const double gap = box_gap(boxes[i], boxes[j]);
      distance[i * n + j] = distance[j * n + i] =
          gap > options.tol ? gap : min_point_distance(annotations[i], annotations[j]);
    }
  double tol = options.tol;
  std::vector<int> label = components(distance, n, tol);
  while (largest_component(label) > options.max_size) {
    tol *= options.factor;
    if (tol < options.min_tol) {
      std::ostringstream why;
      why << "cannot reduce every cluster to at most " << options.max_size << " annotations (tolerance below "
          << options.min_tol << "): some nodules are too close to be told apart automatically";
      throw ClusterError(why.str());
    }
    label = components(distance, n, tol);
  }
  out.tol = tol;
  out.clusters.resize(static_cast<std::size_t>(*std::max_element(label.begin(), label.end()) + 1));
  for (std::size_t i = 0; i < n; ++i) out.clusters[label[i]].push_back(i);
  const auto mean_k = [&](const std::vector<std::size_t>& members) {
    double sum = 0;
    for (auto i : members) sum += annotations[i].centroid()[2];
    return sum / static_cast<double>(members.size());
  };
  std::stable_sort(out.clusters.begin(), out.clusters.end(),
                   [&](const auto& a, const auto& b) { return mean_k(a) < mean_k(b); });
  return out;
}

std::array<double, 3> cluster_centroid(const std::vector<Annotation>& annotations, const std::vector<std::size_t>& members) {
  std::array<double, 3> sum{0, 0, 0};
  for (auto i : members) {
    const auto c = annotations[i].centroid();
    for (int a = 0; a < 3; ++a) sum[a] += c[a];
  }
  for (auto& s : sum) s /= static_cast<double>(members.size());
  return sum;
}

Aggregate parse_aggregate(const std::string& name) {
  if (name == "mode") return Aggregate::Mode;
  if (name == "median_high") return Aggregate::MedianHigh;
  throw std::invalid_argument("malignancy aggregate '" + name + "' is not mode or median_high");
}

ModeTie parse_mode_tie(const std::string& name) {
  if (name == "lowest") return ModeTie::Lowest;
  if (name == "highest") return ModeTie::Highest;
  if (name == "median") return ModeTie::Median;
  throw std::invalid_argument("mode tie rule '" + name + "' is not lowest, highest or median");
}

double aggregate_malignancy(const std::vector<int>& scores, const MalignancyRule& rule) {
  if (scores.empty()) throw std::invalid_argument("no malignancy scores to aggregate");
  std::vector<int> sorted = scores;
  std::sort(sorted.begin(), sorted.end());
  if (rule.aggregate == Aggregate::MedianHigh) return sorted[sorted.size() / 2];  // statistics.median_high
  std::map<int, int> count;
  for (int s : sorted) ++count[s];
  int most = 0;
  for (const auto& [score, c] : count) most = std::max(most, c);
  std::vector<int> modes;  // ascending
  for (const auto& [score, c] : count)
    if (c == most) modes.push_back(score);
  switch (rule.tie) {
    case ModeTie::Lowest: return modes.front();
    case ModeTie::Highest: return modes.back();
    case ModeTie::Median: {
      const std::size_t m = modes.size();
      return m % 2 ? modes[m / 2] : 0.5 * (modes[m / 2 - 1] + modes[m / 2]);  // numpy.median
    }
  }
  return modes.front();
}

std::optional<std::uint8_t> malignancy_label(double score) {
  if (score < 3) return 0;
  if (score > 3) return 1;
  return std::nullopt;
}

}  // namespace mmb::lidc
