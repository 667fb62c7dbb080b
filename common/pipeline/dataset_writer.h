#pragma once
// Receives processed samples in output order (train, val, test) and streams
// them into one .npz per size. Labels are small and kept until their split's
// images member is closed.
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "common/core/image.h"
#include "common/core/sample.h"
#include "common/manifest/manifest.h"
#include "common/npz/npz_writer.h"

namespace mmb {

class DatasetWriter {
 public:
  // Splits: the dataset's .npz files (train/val/test images and labels).
  // OneArray: a shard's files (common/pipeline/cluster.h): every sample in one
  // "images" member, no labels; merge turns them into the Splits layout.
  enum class Layout { Splits, OneArray };

  DatasetWriter(const Manifest& manifest, const std::vector<int>& sizes,
                const std::filesystem::path& out_dir, const NpzOptions& options,
                Layout layout = Layout::Splits, const std::string& name_prefix = "");
  // images[i] is the sample at sizes[i]. Samples must come split-ordered.
  void add(const Sample& sample, const std::vector<Image>& images);
  // Closes the remaining members and renames every file into place.
  std::vector<std::filesystem::path> commit();
  // Closes the remaining members and fsyncs every file without renaming:
  // (temp, final) per size, for an OutputSet that renames a build's files together.
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> finish();
  void abort();

  const std::array<std::vector<std::string>, 3>& ids() const { return ids_; }
  // The .npz file of sizes[i] (its array_sha256() and compression() once finished).
  const NpzWriter& file(std::size_t i) const { return *files_.at(i); }

 private:
  void advance_to(Split split);
  void open_split(int split);
  void close_split(int split);

  const Manifest& manifest_;
  Layout layout_;
  std::vector<int> sizes_;
  std::vector<std::unique_ptr<NpzWriter>> files_;
  int current_ = -1;                 // index of the open split
  std::vector<std::uint8_t> labels_; // of the open split
  std::array<std::vector<std::string>, 3> ids_;
};

}  // namespace mmb
