#pragma once
// Image-folder datasets (Kather, PBC, BUSI, Kermany) keep one folder per class,
// nested differently in every zip. The class of a file is the nearest enclosing
// folder whose name is a class name (case-insensitive), at any depth.
#include <filesystem>
#include <string>
#include <vector>

namespace mmb {

struct ClassFile {
  std::filesystem::path path;
  int label = -1;                       // index into the class names
  std::vector<std::string> folders;     // folder names from the root down to the file's folder
};

// Files with one of the extensions (lower-case, e.g. ".png") that lie inside a
// class folder; junk (dot-files, __MACOSX) is skipped. Sorted by path.
std::vector<ClassFile> find_files_in_class_folders(const std::filesystem::path& root,
                                                   const std::vector<std::string>& class_names,
                                                   const std::vector<std::string>& extensions);

}  // namespace mmb
