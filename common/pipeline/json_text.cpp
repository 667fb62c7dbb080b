#include "common/pipeline/json_text.h"

#include <cstdio>

namespace mmb {

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b >= 0xC2 && b <= 0xDF) n = 2;
  else if (b >= 0xE0 && b <= 0xEF) n = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
  else if (b >= 0xF0 && b <= 0xF4) n = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (i + n > s.size() || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  return n;
}

bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string json_string_literal(std::string_view text) {
  std::string out = "\"";
  std::size_t run = 0;  // start of the current valid run
  const auto flush = [&](std::size_t end) {
    if (end == run) return;
    const std::string quoted = nlohmann::ordered_json(std::string(text.substr(run, end - run))).dump();
    out.append(quoted, 1, quoted.size() - 2);
  };
  for (std::size_t i = 0; i < text.size();) {
    if (const std::size_t n = utf8_sequence_length(text, i)) {
      i += n;
      continue;
    }
    flush(i);
    char escape[8];
    std::snprintf(escape, sizeof escape, "\\udc%02x", static_cast<unsigned char>(text[i]));
    out += escape;
    run = ++i;
  }
  flush(text.size());
  return out + "\"";
}

namespace {

void write(std::string& out, const nlohmann::ordered_json& j, int indent, int depth) {
  const bool pretty = indent >= 0;
  const auto newline = [&](int level) {
    if (pretty) out += '\n' + std::string(static_cast<std::size_t>(indent * level), ' ');
  };
  if (j.is_string()) {
    out += json_string_literal(j.get_ref<const std::string&>());
  } else if (j.is_object() && !j.empty()) {
    out += '{';
    bool first = true;
    for (const auto& [key, value] : j.items()) {
      if (!first) out += ',';
      first = false;
      newline(depth + 1);
      out += json_string_literal(key) + (pretty ? ": " : ":");
      write(out, value, indent, depth + 1);
    }
    newline(depth);
    out += '}';
  } else if (j.is_array() && !j.empty()) {
    out += '[';
    for (std::size_t k = 0; k < j.size(); ++k) {
      if (k) out += ',';
      newline(depth + 1);
      write(out, j[k], indent, depth + 1);
    }
    newline(depth);
    out += ']';
  } else {
    out += j.dump();  // numbers, booleans, null, {} and []: nlohmann's own text
  }
}

}  // namespace

std::string dump_json(const nlohmann::ordered_json& doc, int indent) {
  try {
    return doc.dump(indent);  // every string UTF-8: nlohmann's text, unchanged
  } catch (const nlohmann::json::type_error& e) {
    if (e.id != 316) throw;
  }
  std::string out;
  write(out, doc, indent, 0);
  return out;
}

}  // namespace mmb
