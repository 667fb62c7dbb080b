#pragma once
// Xu et al. 2019 organ box files (the OrganMNIST source boxes), loose or inside Xu's annotation
// zips: one line "name id x1 x2 y1 y2 z1 z2" per organ, inclusive voxel indices (Xu, Huang, Zhang
// et al., IEEE TMI 2019; files in github.com/superxuang/caffe_3d_faster_rcnn, annotations_on_LiTS/;
// real copies in tests/data/xu2019_lits). Pure parsing, apart from opening the zip: the converter
// (organmnist.cpp) and the fuzz harness (tests/fuzz/fuzz_organ_boxes.cpp) share it.
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/ops/volume_ops.h"

namespace mmb::organ {

// A box file member larger than this is refused before it is read: Xu's files have one short
// line per organ (at most 11 lines, under 400 bytes); the zip header's size is not trusted.
constexpr std::uint64_t kMaxBoxFileBytes = 1 << 20;

struct BoxFile {
  std::string where;  // for messages: "annotations/segmentation-3.txt" or "x.zip/segmentation-3.txt"
  std::vector<std::string> lines;
};

struct OrganBox {
  int xu_id = 0;
  std::string organ;  // INFO's name, e.g. "kidney-right"
  VoxelBox box;
};

// "segmentation-12.txt" / "test-segmentation-5.txt" (any case).
bool is_box_file_name(const std::string& file_name);
// "volume-12" / "test-volume-5" for a name is_box_file_name accepts.
std::string box_volume_name(const std::string& file_name);

// The lines of a text, without their '\r' (Xu's files have CRLF ends).
std::vector<std::string> lines_of(const std::string& text);

// The members of a zip named like box files (junk such as __MACOSX/ left out), by volume name,
// added to `out` (a volume already there keeps its first file). `where` prefixes each file's
// display name. libzip checks each member's CRC. Throws InputError naming the zip for an
// unreadable zip, an unreadable member or one over kMaxBoxFileBytes.
void read_zipped_boxes(const std::filesystem::path& zip_path, const std::string& where,
                       std::map<std::string, BoxFile>& out);

// Xu's files abbreviate the side ("kidney-r"); INFO spells it out ("kidney-right").
std::string info_name(const std::string& xu);

// One line against Xu's organ table (names in id order) and the volume size (voxels, array
// order); throws std::invalid_argument saying what is wrong.
OrganBox parse_box_line(const std::string& line, const std::vector<std::string>& xu_organs,
                        const std::array<int, 3>& size);

// The boxes of one volume; bad lines (and an organ named twice) go to `problems` as
// "file:line" and are left out.
std::vector<OrganBox> parse_boxes(const BoxFile& file, const std::vector<std::string>& xu_organs,
                                  const std::array<int, 3>& size, std::vector<Problem>& problems);

}  // namespace mmb::organ
