// CSV reader (common/io/csv.*): line splitting and the header table, on any bytes. A named
// error (InputError, std::invalid_argument) is the expected answer to bad input; a crash,
// sanitizer report or allocation over libFuzzer's -malloc_limit_mb is a finding.
#include <sstream>

#include "common/io/csv.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    try {
      mmb::split_csv_line(line);
    } catch (const std::invalid_argument&) {
    }
    mmb::split_whitespace(line);
    mmb::trim(line);
  }
  const auto file = mmb::fuzz::input_file(data, size, "table.csv");
  for (const bool ragged : {false, true}) {
    std::vector<mmb::Problem> problems;
    try {
      mmb::HeaderTable t(file, problems, {{"image_id"}, ragged});
      for (const auto& row : t.rows()) (void)row.fields.at(t.column("image_id"));
    } catch (const mmb::InputError&) {
    }
  }
  return 0;
}
