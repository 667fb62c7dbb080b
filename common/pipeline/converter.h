#pragma once
// The contract every dataset converter fulfils (GDAL-style driver):
//   identify  - is this folder that dataset's layout? (cheap)
//   enumerate - the list of samples with ids, subjects, labels and fixed splits,
//               without decoding pixels
//   load      - the pixels of one sample at source resolution
// Everything after load (channels, crop, resize, splits, writing) is shared and
// driven by the manifest. A converter never writes files.
//
// Two optional extension points, for sources where one read serves many
// samples or where a sample is rendered rather than resized:
//   read_unit - reads the source shared by the samples of one unit (e.g. a CT
//               volume) once; the pipeline passes it to render()
//   render    - the sample at every requested size (default: load, then the
//               shared channels/crop/resize of the manifest)
// and one for sources that feed several datasets in one pass (LiTS → Organ
// A/C/S/3D): flags() lists them, enumerate_all() lists samples for all of them.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/core/image.h"
#include "common/core/sample.h"
#include "common/manifest/manifest.h"

namespace mmb {

// Source data shared by a unit's samples; converters subclass it.
struct UnitData {
  virtual ~UnitData() = default;
};

class Converter {
 public:
  virtual ~Converter() = default;
  virtual std::string flag() const = 0;            // manifests/<flag>.toml
  virtual std::string source_summary() const = 0;  // one line for `list`
  virtual bool identify(const std::filesystem::path& source) const = 0;
  virtual Enumeration enumerate(const std::filesystem::path& source, const Manifest& manifest) const = 0;
  // Throws InputError naming the file on any problem with this sample.
  virtual Image load(const Sample& sample, const Manifest& manifest) const = 0;

  // Every dataset this converter produces, Sample::dataset indexes it. Default: {flag()}.
  virtual std::vector<std::string> flags() const { return {flag()}; }
  // manifests[i] belongs to flags()[i], nullptr when that dataset was not
  // requested. Default: enumerate() with the first requested manifest.
  virtual Enumeration enumerate_all(const std::filesystem::path& source,
                                    const std::vector<const Manifest*>& manifests) const;
  // Called once per unit, with its first sample. Default: nothing to share.
  virtual std::unique_ptr<UnitData> read_unit(const Sample& first, const Manifest& manifest) const;
  // One image per size. unit is what read_unit returned for this sample's unit.
  virtual std::vector<Image> render(const Sample& sample, const Manifest& manifest, const std::vector<int>& sizes,
                                    const UnitData* unit) const;
};

// converters/registry.cpp: every converter, in `list` order.
const std::vector<std::unique_ptr<Converter>>& all_converters();
// The converter producing this dataset flag (which may be one of several it makes).
const Converter* find_converter(const std::string& flag);

}  // namespace mmb
