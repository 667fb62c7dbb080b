#pragma once
// Deterministic train/val/test assignment.
//
//  * per_class_ratio_split (below): MedMNIST's rule, the default of every
//    dataset MedMNIST split by ratio (manifest split.method = "per-class").
//  * grouped_ratio_split ("pooled"): groups (patients, lesions, volumes) never cross
//    splits. Groups are ordered by a seeded hash of their name, so a group's
//    split does not depend on the order in which the source lists it. Targets:
//    n_val = round(N * r_val / sum), n_test = round(N * r_test / sum), train =
//    the rest (round half up). Test is filled first, then val, each taking
//    groups in hash order and skipping a group that would overshoot its target
//    while a smaller one can still fit. With single-sample groups the counts
//    are exact; otherwise each split is within one group of its target.
//    Precisely: test and val each fall short by less than the smallest group
//    left over (never overshoot); train takes the rest, so it can exceed its
//    target by both shortfalls together.
//
//    Group order: group_hash(seed, key) = splitmix64(fnv1a64(key) ^
//    splitmix64(seed)), ties broken by key. Keys are "s:<subject>" or
//    "i:<id>", so subjects and ids never collide. Fixed and portable: no
//    std::hash, no dependence on input order.
//
//    Rounding rule (floor(N*r/sum + 0.5)) gives, for {7,1,2}:
//      N = 780    -> 546 / 78 / 156
//      N = 10015  -> 7010 / 1002 / 2003   (MedMNIST's DermaMNIST has
//                    7007 / 1003 / 2005: MedMNIST cut each class on its
//                    own, see per_class_ratio_split below)
//      N = 17092  -> 11965 / 1709 / 3418
//      N = 236386 -> 165470 / 23639 / 47277
//    and for {9,1,0}: N = 1200 -> 1080 / 120 / 0. A zero ratio always gives 0.
//    If rounding both val and test up would exceed N, test then val are
//    clamped so train is never negative.
//  * list files: one name per line (first whitespace-separated token).
//  * index map: MedMNIST's per-dataset CSV "split,index,image_id" fixes split
//    membership and the order inside each split.
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/sample.h"

namespace mmb {

// The fixed, portable 64-bit hash that orders groups (see above).
std::uint64_t group_hash(std::uint64_t seed, std::string_view key);

struct SplitTargets {
  std::size_t train = 0, val = 0, test = 0;
};
// Throws std::invalid_argument for a negative or non-finite ratio, or (when
// n > 0) ratios summing to zero.
SplitTargets split_targets(std::size_t n, const std::array<double, 3>& ratios);

// Assigns a split to every sample whose split is Unassigned, using `ratios`
// over those samples only. A sample with an empty subject is its own group
// (keyed by its id). With group_by_subject = false every sample is its own group.
void grouped_ratio_split(std::vector<Sample>& samples, const std::array<double, 3>& ratios,
                         std::uint64_t seed, bool group_by_subject = true);

// ------------------------------------------------ MedMNIST's per-class rule --
// The official counts are reproduced only by cutting each class on its own,
// image by image: with cumulative fractions c1 = r0/sum and c2 = (r0+r1)/sum
// (0.7 and 0.8 for 7:1:2, 0.9 and 1.0 for 9:1:0), a class of n images gives
//   train = int(n * c1), val = int(n * c2) - int(n * c1), test = the rest,
// in IEEE double and truncated exactly like Python's int(n * 0.7)
// (int(1420 * 0.7) == 993 where 1420 * 7 / 10 is 994). At the sources' real class
// sizes this yields DermaMNIST 7007/1003/2005, BloodMNIST 11959/1712/3421,
// BreastMNIST 546/78/156, PathMNIST 89996/10004, OCTMNIST 97477/10832,
// PneumoniaMNIST 4708/524 and VesselMNIST3D 1335/192/382 (before the blank
// sample drop): see tests/unit/test_split_medmnist.cpp and docs/datasets/.
struct ClassCut {
  std::size_t train = 0, val = 0, test = 0;
};
// Throws std::invalid_argument like split_targets for bad ratios.
ClassCut medmnist_class_cut(std::size_t n, const std::array<double, 3>& ratios);

// Assigns every Unassigned sample, class by class (a class is one label
// vector), with medmnist_class_cut. Inside a class the order before the cut is
// a seeded, portable shuffle: ascending group_hash(seed, "i:" + id), ties by
// id, so it depends on neither the input order nor the platform.
// With group_by_subject, samples sharing a subject form a group that never
// crosses splits: each group joins the stratum of its most frequent label
// (ties: the smallest label), and within a stratum the groups fill test, then
// val, in group_hash order up to that stratum's per-class cut (as
// grouped_ratio_split does), so each class lands within one group of the cut.
void per_class_ratio_split(std::vector<Sample>& samples, const std::array<double, 3>& ratios,
                           std::uint64_t seed, bool group_by_subject = false);

// Reads a list file: first token of each non-empty line. Tolerates CRLF, a
// UTF-8 BOM and a missing final newline. Throws InputError(file, "cannot read").
std::vector<std::string> read_name_list(const std::filesystem::path& file);

struct IndexMapEntry {
  Split split;
  std::size_t index;
};
// Parses "split,index,image_id" (header optional). Throws InputError naming
// the file and line for malformed rows, duplicate ids or duplicate indices.
// The header is recognised only on the first row, by a non-numeric index.
// Fields may be wrapped in double quotes; unquoted fields are trimmed.
// Errors carry "file:line" as their path(), so what() reads "file:line: reason".
std::map<std::string, IndexMapEntry> read_index_map(const std::filesystem::path& csv);

struct IndexMapResult {
  std::vector<Sample> ordered;            // split set, sorted by (split, index)
  std::vector<std::string> not_in_map;    // enumerated but absent from the map: dropped
  std::vector<std::string> not_in_source; // in the map but not enumerated
};
// The id without a trailing image extension (.jpg, .jpeg, .png, .tif, .tiff, .bmp, any
// case): "ISIC_0024306.jpg" -> "ISIC_0024306". apply_index_map matches on it when no id
// matches exactly.
std::string image_id_key(const std::string& id);

// Indices need not be contiguous; only their order matters. Throws InputError
// if two enumerated samples share an id the map names.
IndexMapResult apply_index_map(std::vector<Sample> samples,
                               const std::map<std::string, IndexMapEntry>& map);

// Names an "expected list" holds: MedMNIST's "split,index,image_id" CSV (any line with a
// comma makes it one, read by read_index_map), else one name a line (read_name_list).
std::set<std::string> read_expected_names(const std::filesystem::path& list);

// A folder dataset has no label file, so a deleted image leaves no trace; an expected list
// (e.g. MedMNIST's index map, set as source.expected_list) makes missing and unexpected
// images visible to `check`: enumerated samples the list does not name go to
// e.unexpected, names without a sample to e.missing, and a note names the list.
// An empty path does nothing.
void compare_with_expected_list(const std::filesystem::path& list, Enumeration& e);

// Train, then val, then test; inside each split by id (a stable, documented
// order; byte-wise std::string compare). Unassigned samples come last.
void order_by_split_then_id(std::vector<Sample>& samples);

}  // namespace mmb
