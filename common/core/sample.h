#pragma once
// What a converter lists: one entry per output sample, before any pixel is read.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace mmb {

enum class Split { Train = 0, Val = 1, Test = 2, Unassigned = 3 };
inline constexpr std::array<Split, 3> kSplits = {Split::Train, Split::Val, Split::Test};
const char* split_name(Split s);        // "train", "val", "test", "unassigned"
Split parse_split(const std::string&);  // accepts train/val/valid/validation/test; throws otherwise

struct Sample {
  std::string id;          // source id as MedMNIST's index maps name it, e.g. "00000001_000.png"
  std::string subject;     // grouping key for splits (patient, lesion, volume); empty = its own group
  std::vector<std::uint8_t> label;
  Split split = Split::Unassigned;  // fixed by the source (a list file, a test folder), if at all
  std::filesystem::path path;       // the file load() reads, named in errors
  std::int64_t aux = 0;             // converter-private (e.g. a row in an HDF5 table)
  // Samples cut from one source read (a CT volume) share a unit, so the
  // pipeline reads it once for all of them. Empty: the sample stands alone.
  std::string unit;
  int dataset = 0;                  // index into Converter::flags() for multi-dataset converters
};

// The result of listing a source tree. Nothing here required decoding pixels.
struct Enumeration {
  std::vector<Sample> samples;
  std::string layout;                    // which known layout was recognised
  std::string split_rule;                // which split rule applies, in words
  // Ratios for the samples the source leaves Unassigned, e.g. {7,1,2}, or {9,1,0}
  // when the source fixes the test set.
  std::array<double, 3> ratios = {7, 1, 2};
  std::vector<std::string> missing;      // listed by a label file, absent on disk
  std::vector<std::filesystem::path> unexpected;  // on disk, in no label file
  std::vector<Problem> problems;         // malformed rows and the like
  std::vector<std::string> notes;        // facts worth reporting (quirks seen)
  // Inputs a documented source quirk makes unusable (e.g. LIDC series whose nodules
  // pylidc cannot cluster): recorded as skipped and counted by default, whatever
  // --on-error says; --strict makes them errors.
  std::vector<Problem> quirks;
};

}  // namespace mmb
