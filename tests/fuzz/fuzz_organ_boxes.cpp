// Xu et al. organ box files (converters/organ_boxes.*): any bytes as an annotation zip when they
// start like one ("PK"), else as one loose segmentation-N.txt; every box file found is parsed
// against Xu's organ table and a LiTS-sized volume, as the OrganMNIST converter does.
#include <stdexcept>

#include "converters/organ_boxes.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::string> xu_organs = {"liver", "kidney-r", "kidney-l", "femur-r", "femur-l", "bladder",
                                                     "heart", "lung-r",   "lung-l",   "spleen",  "pancreas"};
  const std::array<int, 3> volume{512, 512, 987};
  std::map<std::string, mmb::organ::BoxFile> files;
  if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
    try {
      mmb::organ::read_zipped_boxes(mmb::fuzz::input_file(data, size, "annotations_of_training_set.zip"),
                                    "annotations_of_training_set.zip", files);
    } catch (const mmb::InputError&) {
      return 0;
    }
  } else {
    files.emplace("volume-0", mmb::organ::BoxFile{"segmentation-0.txt",
                                                  mmb::organ::lines_of(std::string(reinterpret_cast<const char*>(data), size))});
  }
  for (const auto& [name, file] : files) {
    std::vector<mmb::Problem> problems;
    for (const auto& b : mmb::organ::parse_boxes(file, xu_organs, volume, problems))
      if (b.xu_id < 1 || b.xu_id > 11 || !mmb::box_fits(b.box, volume)) __builtin_trap();
  }
  return 0;
}
