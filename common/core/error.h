#pragma once
// Errors that name the input they are about. Every problem with a source file,
// a CSV row or a mesh is an InputError, so the pipeline can either stop with
// the message or record it as a skip (--on-error).
#include <filesystem>
#include <stdexcept>
#include <string>

namespace mmb {

class InputError : public std::runtime_error {
 public:
  InputError(std::filesystem::path path, std::string reason)
      : std::runtime_error(path.string() + ": " + reason),
        path_(std::move(path)), reason_(std::move(reason)) {}

  const std::filesystem::path& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::filesystem::path path_;
  std::string reason_;
};

// Not an error: the recipe leaves this sample out (e.g. a blank crop, as
// MedMNIST v2.2.4 dropped them). The pipeline records it in the sidecar's
// "dropped" list whatever --on-error says.
class SampleDropped : public std::runtime_error {
 public:
  explicit SampleDropped(const std::string& reason) : std::runtime_error(reason) {}
};

// A problem found while listing a source (e.g. a malformed CSV row).
struct Problem {
  std::string where;   // "Data_Entry_2017.csv:17" or a file path
  std::string reason;
  std::string message() const { return where + ": " + reason; }
};

}  // namespace mmb
