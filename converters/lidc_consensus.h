#pragma once
// Which reader markings are one nodule, where it is, and what the readers
// think of it: pylidc's Scan.cluster_annotations transcribed exactly
// (notmatthancock/pylidc pylidc/Scan.py cluster_annotations), plus the malignancy
// aggregation MedMNIST's labels need (pylidc itself does not aggregate).
//
// Index space is pylidc's Annotation.contours_matrix: a point is
// (i = yCoord row, j = xCoord column, k = the index of the series slice whose
// z is nearest imageZposition, first on ties), contours sorted by z,
// exclusion contours included. Distances are in these index units, mixing
// pixels with slices, as pylidc's are.
#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "converters/lidc_xml.h"

namespace mmb::lidc {

using IndexPoint = std::array<int, 3>;  // (row, column, slice)

// One reader's nodule in index space, as pylidc's Annotation holds it.
struct Annotation {
  std::vector<IndexPoint> points;  // contours_matrix rows
  int malignancy = 0;
  std::string reader, nodule_id;
  int line = 0;                    // of its <unblindedReadNodule>
  // Annotation.centroid: the plain mean of the contour points.
  std::array<double, 3> centroid() const;
};

// Contour.image_k_position: argmin |slice_z - z| (numpy's first minimum).
int nearest_slice(const std::vector<double>& slice_z, double z);

// Annotation.contours_matrix for one reader's nodule: rois sorted by z
// (stable), points as (yCoord, xCoord, k).
Annotation to_index_space(const ReaderNodule& nodule, const std::vector<double>& slice_z);

// The 'min' metric: the smallest Euclidean distance between the two
// annotations' points (scipy cdist(...).min()).
double min_point_distance(const Annotation& a, const Annotation& b);

struct ClusterOptions {
  double tol = 0;         // pylidc's default is the series' SliceThickness (the docstring's pixel spacing is wrong)
  double factor = 0.9;    // tol *= factor while a cluster has more than max_size annotations
  double min_tol = 0.1;   // below this, give up (ClusterError)
  std::size_t max_size = 4;  // four readers
};

struct Clustering {
  // Annotation indices per cluster, clusters sorted by the mean k of their
  // members' centroids (stable: ties keep connected-component order, which
  // numbers components by their first annotation).
  std::vector<std::vector<std::size_t>> clusters;
  double tol = 0;  // the tolerance that produced them
};

class ClusterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Single linkage: annotations with distance <= tol are adjacent; clusters are
// the connected components; while any has more than max_size members,
// tol *= factor (throwing ClusterError once tol < min_tol).
Clustering cluster_annotations(const std::vector<Annotation>& annotations, const ClusterOptions& options);

// The cluster's position in index space: the mean of its members' centroids
// (pylidc's Scan.visualize marks a cluster there, so every reader counts once).
std::array<double, 3> cluster_centroid(const std::vector<Annotation>& annotations, const std::vector<std::size_t>& members);

// ---- malignancy ------------------------------------------------------------------------

enum class Aggregate {
  Mode,        // the most frequent score: MedMNIST's probable upstream, ACSConv's malignancy_mode
  MedianHigh,  // statistics.median_high, the common pylidc recipe (jaeho3690/LIDC-IDRI-Preprocessing)
};
enum class ModeTie {
  Lowest,   // scipy.stats.mode / pandas Series.mode()[0]: the smallest tied score (default)
  Highest,  // the largest tied score
  Median,   // the median of the tied scores: 2 vs 4 gives 3 (dropped), 1 vs 2 gives 1.5 (benign)
};
struct MalignancyRule {
  Aggregate aggregate = Aggregate::Mode;
  ModeTie tie = ModeTie::Lowest;
};
// Throws std::invalid_argument for other names.
Aggregate parse_aggregate(const std::string& name);  // "mode" | "median_high"
ModeTie parse_mode_tie(const std::string& name);     // "lowest" | "highest" | "median"

// The readers' consensus score (1..5; ModeTie::Median may give a half score).
// Throws std::invalid_argument for no scores.
double aggregate_malignancy(const std::vector<int>& scores, const MalignancyRule& rule);

// MedMNIST's label: below 3 benign (0), above 3 malignant (1), 3 dropped
// (info.py: "malignancy 1/2 -> 0, 4/5 -> 1, level 3 dropped").
std::optional<std::uint8_t> malignancy_label(double score);

}  // namespace mmb::lidc
