#pragma once
// The contract every dataset converter fulfils (GDAL-style driver):
//   identify  - is this folder that dataset's layout? (cheap)
//   enumerate - the list of samples with ids, subjects, labels and fixed splits,
//               without decoding pixels
//   load      - the pixels of one sample at source resolution
// Everything after load (channels, crop, resize, splits, writing) is shared and
// driven by the manifest. A converter never writes files.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/core/image.h"
#include "common/core/sample.h"
#include "common/manifest/manifest.h"

namespace mmb {

class Converter {
 public:
  virtual ~Converter() = default;
  virtual std::string flag() const = 0;            // manifests/<flag>.toml
  virtual std::string source_summary() const = 0;  // one line for `list`
  virtual bool identify(const std::filesystem::path& source) const = 0;
  virtual Enumeration enumerate(const std::filesystem::path& source, const Manifest& manifest) const = 0;
  // Throws InputError naming the file on any problem with this sample.
  virtual Image load(const Sample& sample, const Manifest& manifest) const = 0;
};

// converters/registry.cpp: every converter, in `list` order.
const std::vector<std::unique_ptr<Converter>>& all_converters();
const Converter* find_converter(const std::string& flag);

}  // namespace mmb
