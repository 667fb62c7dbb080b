#include "common/io/class_folders.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

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

std::string sample_id(const fs::path& file, const std::string& form, const fs::path& setting_file) {
  if (form == "file_name") return file.filename().string();
  if (form == "stem") return file.stem().string();
  throw std::runtime_error(setting_file.string() + ": source.sample_id must be \"file_name\" or \"stem\", got '" +
                           form + "'");
}

Sample folder_sample(std::string id, int label, Split split, fs::path path, std::string subject) {
  Sample s;
  s.id = std::move(id);
  s.subject = std::move(subject);
  s.label = {static_cast<std::uint8_t>(label)};
  s.split = split;
  s.path = std::move(path);
  return s;
}

void report_class_folders(const fs::path& source, const std::vector<std::string>& class_names, Enumeration& e) {
  std::vector<std::string> lowered;
  for (const auto& c : class_names) lowered.push_back(to_lower(c));
  const auto class_index = [&](const fs::path& dir) {
    return std::find(lowered.begin(), lowered.end(), to_lower(dir.filename().string())) - lowered.begin();
  };
  std::set<fs::path> roots;  // folders holding the class folders of the samples
  for (const auto& s : e.samples)
    for (fs::path dir = s.path.parent_path(); !dir.empty() && dir != source && dir != dir.parent_path(); dir = dir.parent_path())
      if (class_index(dir) < static_cast<std::ptrdiff_t>(lowered.size())) {
        roots.insert(dir.parent_path());
        break;
      }
  for (const auto& root : roots) {
    std::vector<bool> present(lowered.size(), false);  // a class folder exists (images or not)
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      if (!entry.is_directory() || is_junk_name(entry.path().filename().string())) continue;
      const auto k = class_index(entry.path());
      if (k < static_cast<std::ptrdiff_t>(lowered.size())) present[static_cast<std::size_t>(k)] = true;
      else if (!roots.count(entry.path())) e.unexpected.push_back(entry.path());
    }
    for (std::size_t k = 0; k < present.size(); ++k)
      if (!present[k]) e.missing.push_back(display_path(root / class_names[k], source) + "/ (class folder)");
  }
}

void drop_duplicate_ids(const fs::path& source, Enumeration& e) {
  std::map<std::string, fs::path> first;
  std::vector<Sample> kept;
  for (auto& s : e.samples) {
    auto [it, fresh] = first.emplace(s.id, s.path);
    if (fresh) {
      kept.push_back(std::move(s));
    } else {
      e.notes.push_back("duplicate " + s.id + ": using " + display_path(it->second, source) + ", not " +
                        display_path(s.path, source));
    }
  }
  e.samples = std::move(kept);
}

}  // namespace mmb
