#include "common/npz/npy_format.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace mmb::npy {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::uint64_t kMaxN = ~std::uint64_t{0};

// numpy writes repr(dict) with sorted keys and repr(tuple) for the shape; a 1-D
// shape needs the trailing comma, "(7,)", or numpy rejects it.
std::string header_text(std::uint64_t n, const std::vector<std::size_t>& item_shape) {
  std::string text = "{'descr': '|u1', 'fortran_order': False, 'shape': (";
  text += std::to_string(n);
  if (item_shape.empty()) text += ',';
  for (std::size_t d : item_shape) {
    text += ", ";
    text += std::to_string(d);
  }
  text += "), }";
  return text;
}

std::size_t round_up(std::size_t v, std::size_t to) { return (v + to - 1) / to * to; }

// A recursive-descent reader for the small Python literal subset numpy writes.
class LiteralParser {
 public:
  explicit LiteralParser(const std::string& s) : s_(s) {}

  Header parse() {
    Header h;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        if (peek('[')) fail("structured dtypes are not supported");
        h.descr = string_literal();
        has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        h.shape = int_tuple();
        has_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    if (!has_descr || !has_order || !has_shape) fail("missing descr, fortran_order or shape");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("bad npy header (" + why + "): " + s_);
  }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool peek(char c) {
    skip_space();
    return i_ < s_.size() && s_[i_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    skip_space();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) fail("expected a string");
    const char quote = s_[i_++];
    const std::size_t end = s_.find(quote, i_);
    if (end == std::string::npos) fail("unterminated string");
    std::string v = s_.substr(i_, end - i_);
    i_ = end + 1;
    return v;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const std::string w = word;
      if (s_.compare(i_, w.size(), w) == 0) {
        i_ += w.size();
        return value;
      }
    }
    fail("expected True or False");
  }
  std::size_t integer() {
    skip_space();
    const std::size_t start = i_;
    std::size_t v = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      const std::size_t digit = static_cast<std::size_t>(s_[i_++] - '0');
      if (v > (~std::size_t{0} - digit) / 10) fail("dimension too large");
      v = v * 10 + digit;
    }
    if (i_ == start) fail("expected a non-negative integer");
    if (i_ < s_.size() && (s_[i_] == 'L' || s_[i_] == 'l')) ++i_;  // Python 2 longs
    return v;
  }
  std::vector<std::size_t> int_tuple() {
    std::vector<std::size_t> v;
    expect('(');
    while (!peek(')')) {
      v.push_back(integer());
      if (!peek(')')) expect(',');
    }
    expect(')');
    return v;
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

// Element size of a simple numeric descr such as "|u1" or "<f8".
std::size_t descr_item_bytes(const std::string& descr) {
  std::size_t i = 0;
  if (i < descr.size() && std::string("<>|=").find(descr[i]) != std::string::npos) ++i;
  if (i >= descr.size() || std::string("biufc").find(descr[i]) == std::string::npos)
    throw std::runtime_error("unsupported dtype '" + descr + "'");
  ++i;
  std::size_t bytes = 0;
  for (; i < descr.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(descr[i])))
      throw std::runtime_error("unsupported dtype '" + descr + "'");
    bytes = bytes * 10 + static_cast<std::size_t>(descr[i] - '0');
    if (bytes > 64) throw std::runtime_error("unsupported dtype '" + descr + "'");
  }
  if (bytes == 0) throw std::runtime_error("unsupported dtype '" + descr + "'");
  return bytes;
}

}  // namespace

std::size_t Header::element_count() const {
  std::size_t n = 1;
  for (std::size_t d : shape) {
    if (d != 0 && n > ~std::size_t{0} / d) throw std::runtime_error("npy shape overflows");
    n *= d;
  }
  return n;
}

std::size_t reserved_header_size(const std::vector<std::size_t>& item_shape) {
  const std::size_t size = round_up(kPreambleV1 + header_text(kMaxN, item_shape).size() + 1, kAlign);
  if (size - kPreambleV1 > 0xFFFF) throw std::invalid_argument("npy item shape too long for a v1.0 header");
  return size;
}

std::vector<std::uint8_t> make_header(std::uint64_t n, const std::vector<std::size_t>& item_shape,
                                      std::size_t size) {
  const std::string text = header_text(n, item_shape);
  if (size % kAlign != 0 || kPreambleV1 + text.size() + 1 > size || size - kPreambleV1 > 0xFFFF)
    throw std::logic_error("npy header does not fit its reserved size");
  const std::size_t len = size - kPreambleV1;
  std::vector<std::uint8_t> h(size, ' ');
  std::copy_n(kMagic, 6, h.begin());
  h[6] = 1;  // version 1.0
  h[7] = 0;
  h[8] = static_cast<std::uint8_t>(len);
  h[9] = static_cast<std::uint8_t>(len >> 8);
  std::copy(text.begin(), text.end(), h.begin() + kPreambleV1);
  h.back() = '\n';
  return h;
}

Header parse_header_text(const std::string& text) {
  Header h = LiteralParser(text).parse();
  h.item_bytes = descr_item_bytes(h.descr);
  return h;
}

}  // namespace mmb::npy
