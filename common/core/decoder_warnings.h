#pragma once
// Warnings a decoder reported while reading the current sample on this thread
// (libjpeg's "Corrupt JPEG data: 16 extraneous bytes before marker 0xd3", libtiff's
// warning handler). The decoder keeps the image, as libjpeg does; the pipeline clears
// the list before it renders a sample and records what is left in the sidecar, so
// converters need not pass warnings along (same pattern as unit_bytes_read_by_this_thread).
#include <algorithm>
#include <string>
#include <vector>

namespace mmb {

inline std::vector<std::string>& decoder_warnings_of_this_thread() {
  thread_local std::vector<std::string> warnings;
  return warnings;
}

// Adds a warning once: libjpeg repeats "Premature end of JPEG file" for every missing
// scanline block (measured: 15 times for one damaged PBC image), so repeats are dropped
// and at most 16 different messages are kept per sample.
inline void add_decoder_warning(std::string warning) {
  auto& warnings = decoder_warnings_of_this_thread();
  if (warnings.size() < 16 && std::find(warnings.begin(), warnings.end(), warning) == warnings.end())
    warnings.push_back(std::move(warning));
}

}  // namespace mmb
