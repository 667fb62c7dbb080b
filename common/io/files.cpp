#include "common/io/files.h"

#include <algorithm>
#include <fstream>

#include "common/core/error.h"

namespace fs = std::filesystem;

namespace mmb {

std::string to_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_junk_name(const std::string& name) {
  return name.empty() || name[0] == '.' || name == "__MACOSX" || to_lower(name) == "thumbs.db" ||
         to_lower(name) == "desktop.ini";
}

std::vector<fs::path> find_files(const fs::path& root, const std::function<bool(const fs::path&)>& keep) {
  std::vector<fs::path> found;
  if (!fs::is_directory(root)) throw InputError(root, "source folder does not exist");
  auto options = fs::directory_options::follow_directory_symlink |
                 fs::directory_options::skip_permission_denied;
  for (auto it = fs::recursive_directory_iterator(root, options); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (is_junk_name(name)) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && keep(it->path())) found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::vector<fs::path> find_files_with_extension(const fs::path& root, const std::vector<std::string>& exts) {
  return find_files(root, [&](const fs::path& p) {
    const std::string ext = to_lower(p.extension().string());
    return std::find(exts.begin(), exts.end(), ext) != exts.end();
  });
}

std::optional<fs::path> find_file_named(const fs::path& root, const std::string& name) {
  auto hits = find_files(root, [&](const fs::path& p) { return p.filename() == name; });
  if (hits.empty()) return std::nullopt;
  return hits.front();
}

std::vector<std::string> read_lines(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file, fs::exists(file) ? "cannot open file" : "file is missing");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (lines.empty() && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw InputError(file, "read error");
  return lines;
}

std::string display_path(const fs::path& file, const fs::path& root) {
  auto rel = file.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") return file.string();
  return rel.string();
}

}  // namespace mmb
