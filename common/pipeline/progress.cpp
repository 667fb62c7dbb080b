#include "common/pipeline/progress.h"

#include <unistd.h>

#include <cstdio>

namespace mmb {

Progress::Progress(std::string label, std::size_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), tty_(::isatty(2) != 0),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::update(std::size_t done) {
  const auto now = std::chrono::steady_clock::now();
  // A terminal gets a live line; a log gets a line every 10 s.
  const auto interval = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(10000);
  if (now - last_ < interval) return;
  last_ = now;
  print(done, false);
}

void Progress::finish(std::size_t done) { print(done, true); }

void Progress::print(std::size_t done, bool final) {
  if (!enabled_) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? done / seconds : 0.0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0.0;
  std::fprintf(stderr, "%s%s: %zu/%zu samples (%.1f%%), %.1f/s, %s %.0fs%s", tty_ ? "\r" : "", label_.c_str(),
               done, total_, total_ ? 100.0 * done / total_ : 100.0, rate, final ? "took" : "ETA",
               final ? seconds : eta, (tty_ && !final) ? "   " : "\n");
  std::fflush(stderr);
}

}  // namespace mmb
