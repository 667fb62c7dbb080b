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
  DatasetWriter(const Manifest& manifest, const std::vector<int>& sizes,
                const std::filesystem::path& out_dir, const NpzOptions& options);
  // images[i] is the sample at sizes[i]. Samples must come split-ordered.
  void add(const Sample& sample, const std::vector<Image>& images);
  // Closes the remaining members and renames every file into place.
  std::vector<std::filesystem::path> commit();
  void abort();

  const std::array<std::vector<std::string>, 3>& ids() const { return ids_; }

 private:
  void advance_to(Split split);
  void open_split(int split);
  void close_split(int split);

  const Manifest& manifest_;
  std::vector<int> sizes_;
  std::vector<std::unique_ptr<NpzWriter>> files_;
  int current_ = -1;                 // index of the open split
  std::vector<std::uint8_t> labels_; // of the open split
  std::array<std::vector<std::string>, 3> ids_;
};

}  // namespace mmb
