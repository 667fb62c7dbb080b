// Index-map and list readers (common/split): MedMNIST's split,index,image_id CSV, plain name
// lists, and the expected-list reader that picks between them.
#include "common/split/split.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = mmb::fuzz::input_file(data, size, "index_map.csv");
  try {
    mmb::read_index_map(file);
  } catch (const mmb::InputError&) {
  }
  try {
    mmb::read_name_list(file);
  } catch (const mmb::InputError&) {
  }
  try {
    mmb::read_expected_names(file);
  } catch (const mmb::InputError&) {
  }
  return 0;
}
