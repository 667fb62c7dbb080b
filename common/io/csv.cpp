#include "common/io/csv.h"

#include <algorithm>
#include <boost/tokenizer.hpp>
#include <sstream>
#include <stdexcept>

#include "common/io/files.h"

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

std::vector<std::string> split_csv_header(const std::filesystem::path& file, const std::string& line,
                                          std::size_t line_number) {
  try {
    return split_csv_line(line);
  } catch (const std::invalid_argument& e) {
    throw InputError(file, "line " + std::to_string(line_number) + ": " + e.what());
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

HeaderTable::HeaderTable(const std::filesystem::path& file, std::vector<Problem>& problems)
    : HeaderTable(file, problems, Options{}) {}

HeaderTable::HeaderTable(const std::filesystem::path& file, std::vector<Problem>& problems, Options options)
    : file_(file) {
  const auto lines = read_lines(file);
  std::size_t first = 0;
  while (first < lines.size() && trim(lines[first]).empty()) ++first;
  if (first == lines.size()) throw InputError(file, "empty table (no header line)");
  tab_ = lines[first].find('\t') != std::string::npos;
  try {
    header_ = split(lines[first]);
  } catch (const std::invalid_argument& e) {
    throw InputError(file, "line " + std::to_string(first + 1) + ": " + e.what());
  }
  std::size_t widest = 0;  // the last required column
  for (const auto& name : options.required) widest = std::max(widest, column(name));
  for (std::size_t i = first + 1; i < lines.size(); ++i) {
    if (trim(lines[i]).empty()) continue;
    try {
      auto fields = split(lines[i]);
      if (options.ragged ? fields.size() <= widest || fields.size() > header_.size()
                         : fields.size() != header_.size())
        throw std::invalid_argument("expected " + std::to_string(header_.size()) + " fields" +
                                    (options.ragged ? "" : " as in the header") + ", got " +
                                    std::to_string(fields.size()));
      rows_.push_back({where(i + 1), std::move(fields)});
    } catch (const std::invalid_argument& err) {
      problems.push_back({where(i + 1), err.what()});
    }
  }
}

std::optional<std::size_t> HeaderTable::find_column(const std::string& name) const {
  for (std::size_t i = 0; i < header_.size(); ++i)
    if (to_lower(header_[i]) == to_lower(name)) return i;
  return std::nullopt;
}

std::size_t HeaderTable::column(const std::string& name) const {
  if (auto i = find_column(name)) return *i;
  throw InputError(file_, "no column '" + name + "' in the header");
}

std::string HeaderTable::where(std::size_t line) const {
  return file_.filename().string() + ":" + std::to_string(line);
}

std::vector<std::string> HeaderTable::split(const std::string& line) const {
  std::vector<std::string> fields;
  if (!tab_) {
    fields = split_csv_line(line);
  } else {
    for (std::size_t start = 0;;) {
      const auto tab = line.find('\t', start);
      fields.push_back(line.substr(start, tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
  }
  for (auto& f : fields) {
    f = trim(f);
    if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
  }
  return fields;
}

}  // namespace mmb
