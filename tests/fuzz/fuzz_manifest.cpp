// Manifest values (common/manifest): any bytes as a manifest TOML file, then every typed
// accessor on the keys converters read, and the input's first line as a --set override.
#include "common/manifest/manifest.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto m = mmb::load_manifest(mmb::fuzz::input_file(data, size, "fuzzmnist.toml"));
    for (const char* key : {"split.seed", "split.group", "preprocess.resize_kernel", "source.xu_organs",
                            "split.ratios", "dataset.sizes", "preprocess.crop"}) {
      try {
        m.get_string(key, "");
        m.get_number(key, 0);
        m.get_bool(key, false);
        m.get_numbers(key, {});
        m.get_strings(key, {});
      } catch (const std::exception&) {
      }
    }
    m.apply_override(text.substr(0, text.find('\n')));
    m.to_json();
  } catch (const std::exception&) {
  }
  return 0;
}
