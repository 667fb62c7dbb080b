#pragma once
// CSV rows as the medical sources write them: comma-separated, fields may be
// double-quoted. Parsed with Boost.Tokenizer's escaped_list_separator.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace mmb {

// Splits one line into fields (quotes removed). Throws std::invalid_argument
// for an unbalanced quote.
std::vector<std::string> split_csv_line(const std::string& line);

// The header (or any line that must parse) of `file`: split_csv_line, with a
// malformed line reported as InputError(file, "line N: malformed CSV row ...") so
// the message names the file and line whatever --on-error says.
std::vector<std::string> split_csv_header(const std::filesystem::path& file, const std::string& line,
                                          std::size_t line_number = 1);

// Fields split on runs of spaces/tabs (list files, box files).
std::vector<std::string> split_whitespace(const std::string& line);

std::string trim(const std::string& s);

// A delimited text table whose columns are found by header name (case-insensitive).
// Comma-separated, or tab-separated with quoted strings as Dataverse serves an
// ingested table (.tab): the delimiter is taken from the header line (the first
// non-blank one). Fields are trimmed and lose surrounding double quotes. Rows with
// the wrong field count or a malformed quote are not kept; each goes to `problems`
// as "file:line" (file name only) with the reason. Blank lines are skipped.
class HeaderTable {
 public:
  struct Row {
    std::string where;  // "file:line"
    std::vector<std::string> fields;
  };
  struct Options {
    // Columns the caller reads; one missing from the header throws InputError(file,
    // "no column '<name>' in the header") at construction.
    std::vector<std::string> required;
    // false: every row has exactly as many fields as the header. true: a row may
    // have fewer (trailing empty columns left out), as long as it holds every
    // required column, and never more.
    bool ragged = false;
  };

  // Throws InputError if the file can't be read or has no header line.
  HeaderTable(const std::filesystem::path& file, std::vector<Problem>& problems);
  HeaderTable(const std::filesystem::path& file, std::vector<Problem>& problems, Options options);

  const std::vector<Row>& rows() const { return rows_; }
  const std::vector<std::string>& header() const { return header_; }
  bool tab_separated() const { return tab_; }
  std::optional<std::size_t> find_column(const std::string& name) const;
  // Throws InputError(file, "no column '<name>' in the header").
  std::size_t column(const std::string& name) const;

 private:
  std::string where(std::size_t line) const;
  std::vector<std::string> split(const std::string& line) const;

  std::filesystem::path file_;
  bool tab_ = false;
  std::vector<std::string> header_;
  std::vector<Row> rows_;
};

}  // namespace mmb
