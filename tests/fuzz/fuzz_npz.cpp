// Zip/npz reader and npy header parser (common/npz/zip_reader.*, npz_reader.*, npy_format.*):
// the input is an .npz; every listed array is read. Named errors are expected; anything
// else (crash, sanitizer report, a huge allocation from a small file) is a finding.
#include "common/core/error.h"
#include "common/npz/npy_format.h"
#include "common/npz/npz_reader.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    mmb::npy::parse_header_text(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception&) {
  }
  const auto file = mmb::fuzz::input_file(data, size, "input.npz");
  try {
    for (const auto& key : mmb::list_npz_keys(file)) {
      try {
        mmb::read_npz_array(file, key);
      } catch (const mmb::InputError&) {
      } catch (const std::invalid_argument&) {
      }
    }
  } catch (const mmb::InputError&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
