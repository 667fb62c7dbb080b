#include "common/io/class_folders.h"

#include <algorithm>

#include "common/io/files.h"

namespace fs = std::filesystem;

namespace mmb {

std::vector<ClassFile> find_files_in_class_folders(const fs::path& root, const std::vector<std::string>& class_names,
                                                   const std::vector<std::string>& extensions) {
  std::vector<std::string> lowered;
  for (const auto& c : class_names) lowered.push_back(to_lower(c));
  std::vector<ClassFile> out;
  for (const auto& file : find_files_with_extension(root, extensions)) {
    ClassFile cf{file, -1, {}};
    for (const auto& part : file.parent_path().lexically_relative(root)) cf.folders.push_back(part.string());
    for (auto it = cf.folders.rbegin(); it != cf.folders.rend() && cf.label < 0; ++it) {
      auto hit = std::find(lowered.begin(), lowered.end(), to_lower(*it));
      if (hit != lowered.end()) cf.label = static_cast<int>(hit - lowered.begin());
    }
    if (cf.label >= 0) out.push_back(std::move(cf));
  }
  return out;
}

}  // namespace mmb
