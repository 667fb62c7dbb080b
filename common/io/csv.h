#pragma once
// CSV rows as the medical sources write them: comma-separated, fields may be
// double-quoted. Parsed with Boost.Tokenizer's escaped_list_separator.
#include <string>
#include <vector>

namespace mmb {

// Splits one line into fields (quotes removed). Throws std::invalid_argument
// for an unbalanced quote.
std::vector<std::string> split_csv_line(const std::string& line);

// Fields split on runs of spaces/tabs (list files, box files).
std::vector<std::string> split_whitespace(const std::string& line);

std::string trim(const std::string& s);

}  // namespace mmb
