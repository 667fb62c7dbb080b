#pragma once
// Image-folder datasets (Kather, PBC, BUSI, Kermany) keep one folder per class,
// nested differently in every zip. The class of a file is the nearest enclosing
// folder whose name is a class name (case-insensitive), at any depth.
//
// Such sources have no label file, so the sample's id is the file's own name
// (sample_id), a sample is just (id, label, fixed split, path) (folder_sample), and
// two copies of one name must be reduced to one (drop_duplicate_ids).
#include <filesystem>
#include <string>
#include <vector>

#include "common/core/sample.h"

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

// Sample::id as MedMNIST's index maps most plausibly name a folder image: the file name
// ("ADI-AAAMHQMK.tif") for form "file_name", the stem ("ADI-AAAMHQMK") for "stem".
// Any other form is a manifest error: std::runtime_error naming `setting_file` (the
// manifest that sets source.sample_id).
std::string sample_id(const std::filesystem::path& file, const std::string& form,
                      const std::filesystem::path& setting_file);

// One image of a class folder: id, a one-value label, the split the source fixes (or
// Unassigned) and its path; subject empty unless the file name names a patient.
Sample folder_sample(std::string id, int label, Split split, std::filesystem::path path,
                     std::string subject = {});

// A deleted class folder leaves no trace in the samples, and an added one is ignored,
// so both are reported: for every folder that holds the class folders of the samples
// (e.g. NCT-CRC-HE-100K/), each class with no folder there goes to e.missing as
// "<folder>/<CLASS>/ (class folder)" and each other non-junk subfolder to e.unexpected.
void report_class_folders(const std::filesystem::path& source, const std::vector<std::string>& class_names,
                          Enumeration& e);

// Keeps the first sample (in the enumeration's order) of each id, since ids must be
// unique for index maps; each dropped copy gets a note "duplicate <id>: using <kept>,
// not <dropped>" with paths relative to source.
void drop_duplicate_ids(const std::filesystem::path& source, Enumeration& e);

}  // namespace mmb
