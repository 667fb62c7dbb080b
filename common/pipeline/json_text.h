#pragma once
// JSON text of a document whose strings may hold bytes that are not UTF-8 (a file
// named "BA_\xff1.jpg" becomes a sample id). nlohmann::json's dump() throws
// type_error 316 on those (issue 13: exit 3, no file named). dump_json() writes the
// same text as dump() when every string is UTF-8; otherwise each byte that is not part
// of a valid UTF-8 sequence is written as the escape \udcXX (XX its hex value): PEP 383's
// "surrogateescape" code points, so Python's json.load() returns the name exactly as
// os.listdir() spells it, and os.fsencode() (or .encode("utf-8", "surrogateescape"))
// gives back the original bytes. Lone surrogates are valid JSON syntax (RFC 8259 section
// 8.2 leaves their meaning to the reader); strict UTF-8 readers may refuse them.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mmb {

// Length of the valid UTF-8 sequence starting at s[i] (RFC 3629: no overlongs, no
// surrogates, at most U+10FFFF), or 0 when s[i] does not start one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

bool is_utf8(std::string_view text);

// The JSON string literal (quotes included) of `text`, invalid bytes as \udcXX.
std::string json_string_literal(std::string_view text);

// dump(indent) of `doc` (indent -1: compact), with json_string_literal for strings and keys.
std::string dump_json(const nlohmann::ordered_json& doc, int indent = -1);

}  // namespace mmb
