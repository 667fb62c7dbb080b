#include "converters/organ_boxes.h"

#include <zip.h>

#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "common/io/csv.h"
#include "common/io/files.h"

namespace fs = std::filesystem;

namespace mmb::organ {
namespace {

const std::regex kBoxFile(R"((test-)?segmentation-(\d{1,6})\.txt)", std::regex::icase);

}  // namespace

bool is_box_file_name(const std::string& file_name) { return std::regex_match(file_name, kBoxFile); }

std::string box_volume_name(const std::string& file_name) {
  std::smatch m;
  if (!std::regex_match(file_name, m, kBoxFile)) throw std::invalid_argument("not a box file name: " + file_name);
  return to_lower(m[1].str()) + "volume-" + std::to_string(std::stoi(m[2]));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line.ends_with('\r') ? line.substr(0, line.size() - 1) : line);
  return lines;
}

void read_zipped_boxes(const fs::path& zip_path, const std::string& where, std::map<std::string, BoxFile>& out) {
  int err = 0;
  std::unique_ptr<zip_t, int (*)(zip_t*)> zip(zip_open(zip_path.c_str(), ZIP_RDONLY, &err), zip_close);
  if (!zip) throw InputError(zip_path, "cannot open zip (libzip error " + std::to_string(err) + ")");
  const zip_int64_t entries = zip_get_num_entries(zip.get(), 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* name = zip_get_name(zip.get(), static_cast<zip_uint64_t>(i), 0);
    if (!name) throw InputError(zip_path, "cannot read the name of member " + std::to_string(i) + " (" + zip_strerror(zip.get()) + ")");
    const std::string member = name, base = fs::path(member).filename().string();
    if (!is_box_file_name(base) || is_junk_name(member)) continue;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      throw InputError(zip_path, "cannot read the size of member " + member + " (" + zip_strerror(zip.get()) + ")");
    if (st.size > kMaxBoxFileBytes)
      throw InputError(zip_path, "member " + member + " claims " + std::to_string(st.size) +
                                     " bytes; a box file has one short line per organ (limit " +
                                     std::to_string(kMaxBoxFileBytes) + " bytes)");
    std::string text(st.size, '\0');
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen_index(zip.get(), static_cast<zip_uint64_t>(i), 0), zip_fclose);
    if (!f || zip_fread(f.get(), text.data(), st.size) != static_cast<zip_int64_t>(st.size))
      throw InputError(zip_path, "cannot read member " + member + " (" +
                                     (f ? zip_file_strerror(f.get()) : zip_strerror(zip.get())) + ")");
    out.emplace(box_volume_name(base), BoxFile{where + "/" + member, lines_of(text)});
  }
}

std::string info_name(const std::string& xu) {
  if (xu.ends_with("-r")) return xu.substr(0, xu.size() - 2) + "-right";
  if (xu.ends_with("-l")) return xu.substr(0, xu.size() - 2) + "-left";
  return xu;
}

OrganBox parse_box_line(const std::string& line, const std::vector<std::string>& xu_organs, const std::array<int, 3>& n) {
  const auto f = split_whitespace(line);
  if (f.size() != 8) throw std::invalid_argument("expected 'name id x1 x2 y1 y2 z1 z2', got " + std::to_string(f.size()) + " fields");
  int v[7];
  for (int i = 0; i < 7; ++i) {
    if (f[i + 1].empty() || f[i + 1].find_first_not_of("0123456789") != std::string::npos || f[i + 1].size() > 6)
      throw std::invalid_argument("'" + f[i + 1] + "' is not a voxel index");
    v[i] = std::stoi(f[i + 1]);
  }
  if (v[0] < 1 || v[0] > static_cast<int>(xu_organs.size()) || xu_organs[v[0] - 1] != f[0])
    throw std::invalid_argument("organ '" + f[0] + "' with id " + f[1] + " is not in Xu et al.'s table");
  const VoxelBox box{{v[1], v[3], v[5]}, {v[2], v[4], v[6]}};
  if (!box_fits(box, n) || !box_encodable(box))
    throw std::invalid_argument("box (" + box_text(box) + ") does not fit the volume (" + std::to_string(n[0]) + "x" +
                                std::to_string(n[1]) + "x" + std::to_string(n[2]) + ")");
  return {v[0], info_name(f[0]), box};
}

std::vector<OrganBox> parse_boxes(const BoxFile& file, const std::vector<std::string>& xu_organs,
                                  const std::array<int, 3>& size, std::vector<Problem>& problems) {
  std::vector<OrganBox> boxes;
  for (std::size_t n = 0; n < file.lines.size(); ++n) {
    if (trim(file.lines[n]).empty()) continue;
    try {
      OrganBox b = parse_box_line(file.lines[n], xu_organs, size);
      for (const auto& other : boxes)
        if (other.xu_id == b.xu_id) throw std::invalid_argument("organ " + std::to_string(b.xu_id) + " appears twice");
      boxes.push_back(b);
    } catch (const std::invalid_argument& err) {
      problems.push_back({file.where + ":" + std::to_string(n + 1), err.what()});
    }
  }
  return boxes;
}

}  // namespace mmb::organ
