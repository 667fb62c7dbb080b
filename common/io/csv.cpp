#include "common/io/csv.h"

#include <algorithm>
#include <boost/tokenizer.hpp>
#include <sstream>
#include <stdexcept>

namespace mmb {

std::vector<std::string> split_csv_line(const std::string& line) {
  using Separator = boost::escaped_list_separator<char>;
  // No escape character: medical CSVs never backslash-escape, and DeepDRiD
  // paths are full of backslashes that must survive.
  Separator separator(std::string(), std::string(","), std::string("\""));
  // The tokenizer accepts a quote left open at the end of the line; an odd
  // number of quotes is exactly that case.
  if (std::count(line.begin(), line.end(), '"') % 2 != 0) throw std::invalid_argument("malformed CSV row (unbalanced quote)");
  try {
    boost::tokenizer<Separator> tokens(line, separator);
    return {tokens.begin(), tokens.end()};
  } catch (const boost::escaped_list_error& e) {
    throw std::invalid_argument(std::string("malformed CSV row (") + e.what() + ")");
  }
}

std::vector<std::string> split_whitespace(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  return fields;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

}  // namespace mmb
