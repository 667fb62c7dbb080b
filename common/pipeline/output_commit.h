#pragma once
// Making the outputs of one build appear together.
//
// Every file of a build (each size's .npz and its .json sidecar) is first
// written completely to "<final>.partial-<pid>" and fsynced. commit() then
// writes a journal ".medmnist-commit-<pid>.json" naming every rename, fsyncs
// it, renames the files (archives first, sidecars last, so a sidecar never
// names an archive that is not there yet), fsyncs the folder and removes the
// journal. A process killed during the renames leaves its journal behind; the
// next build into the folder finishes those renames (every temp file in it is
// complete) before anything else, so the folder holds either the old set or
// the new set. A reader can check any pair: the sidecar's sha256 is the
// archive's.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmb {

// "<file>.partial-<pid>" for this process.
std::filesystem::path partial_path(const std::filesystem::path& file);

// Writes doc to `file` directly (no rename), checking every write, the flush
// and the fsync; on failure the file is removed and the error names it.
void write_json_durably(const std::filesystem::path& file, const nlohmann::ordered_json& doc);

class OutputSet {
 public:
  OutputSet() = default;
  ~OutputSet();  // removes the temp files if commit() did not run
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;

  // temp is complete and fsynced; it becomes final at commit(). Sidecars are
  // added with add_sidecar() and renamed after every archive.
  void add(std::filesystem::path temp, std::filesystem::path final_path);
  void add_sidecar(std::filesystem::path temp, std::filesystem::path final_path);
  void commit();
  void abort() noexcept;

 private:
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> archives_, sidecars_;
  bool done_ = false;
};

// Creates the output folder (and its parents) if needed; the error names the
// folder and the reason (e.g. "Read-only file system").
void create_output_dir(const std::filesystem::path& dir);

// Before writing into dir: finishes the commits of dead processes (their
// journals) and removes their "*.partial-<pid>" files. Returns one line per
// thing done, for the user.
std::vector<std::string> recover_output_dir(const std::filesystem::path& dir);

}  // namespace mmb
