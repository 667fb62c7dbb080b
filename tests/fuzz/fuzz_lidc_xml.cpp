// LIDC reader XML walker (converters/lidc_xml.*): any bytes as a LidcReadMessage file.
#include "converters/lidc_xml.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto m = mmb::lidc::read_lidc_xml(mmb::fuzz::input_file(data, size, "069.xml"));
    for (const auto& n : m.nodules)
      for (const auto& r : n.rois) (void)r.points.size();
  } catch (const mmb::InputError&) {
  }
  return 0;
}
