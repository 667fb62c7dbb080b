#pragma once
// Progress on stderr with rate and ETA, at most a few lines per second.
#include <chrono>
#include <cstddef>
#include <string>

namespace mmb {

class Progress {
 public:
  Progress(std::string label, std::size_t total, bool enabled);
  void update(std::size_t done);
  void finish(std::size_t done);

 private:
  void print(std::size_t done, bool final);
  std::string label_;
  std::size_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace mmb
