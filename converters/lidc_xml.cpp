// LidcReadMessage reading with pugixml; the ingest rules are pylidc's
// populate.py (notmatthancock/pylidc pylidc/_populate_db/populate.py), see lidc_xml.h.
#include "converters/lidc_xml.h"

#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>

namespace fs = std::filesystem;

namespace mmb::lidc {
namespace {

// "nih:roi" and "roi" are the same element: namespaces are matched by local name.
std::string_view local_name(const pugi::xml_node& node) {
  std::string_view name = node.name();
  const auto colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

std::vector<pugi::xml_node> children(const pugi::xml_node& parent, std::string_view name) {
  std::vector<pugi::xml_node> out;
  for (auto c = parent.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element && local_name(c) == name) out.push_back(c);
  return out;
}

pugi::xml_node child(const pugi::xml_node& parent, std::string_view name) {
  for (auto c = parent.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element && local_name(c) == name) return c;
  return {};
}

std::string trimmed_text(const pugi::xml_node& node) {
  std::string s = node.text().get();
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// Line numbers for "file:line" messages, from pugixml's byte offsets.
class LineIndex {
 public:
  explicit LineIndex(const std::string& text) {
    for (std::size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') newlines_.push_back(i);
  }
  int line_of(std::ptrdiff_t offset) const {
    if (offset < 0) return 0;
    return static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), static_cast<std::size_t>(offset)) -
                            newlines_.begin()) + 1;
  }

 private:
  std::vector<std::size_t> newlines_;
};

template <typename T>
T parse_value(const pugi::xml_node& node, std::string_view what) {
  const std::string text = trimmed_text(node);
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!node || text.empty() || ec != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument(std::string(what) + " '" + text + "' is not a number");
  return value;
}

// pylidc's rule: no characteristics, none inside, or any value '0' or empty -> skip.
enum class Characteristics { Missing, Bad, Usable };
Characteristics classify(const pugi::xml_node& chars) {
  if (!chars) return Characteristics::Missing;
  bool any = false;
  for (auto c = chars.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    any = true;
    const std::string v = trimmed_text(c);
    if (v.empty() || v == "0") return Characteristics::Bad;
  }
  return any ? Characteristics::Usable : Characteristics::Missing;
}

Roi parse_roi(const pugi::xml_node& roi, const LineIndex& lines) {
  Roi r;
  r.line = lines.line_of(roi.offset_debug());
  r.z = parse_value<double>(child(roi, "imageZposition"), "imageZposition");
  r.sop_uid = trimmed_text(child(roi, "imageSOP_UID"));
  r.inclusion = trimmed_text(child(roi, "inclusion")) == "TRUE";
  for (const auto& edge : children(roi, "edgeMap"))
    r.points.push_back({parse_value<int>(child(edge, "xCoord"), "xCoord"), parse_value<int>(child(edge, "yCoord"), "yCoord")});
  return r;
}

void read_session(const pugi::xml_node& session, const LineIndex& lines, ReadMessage& m) {
  const std::string reader = trimmed_text(child(session, "servicingRadiologistID"));
  for (const auto& node : children(session, "unblindedReadNodule")) {
    const pugi::xml_node chars = child(node, "characteristics");
    const auto kind = classify(chars);
    if (kind != Characteristics::Usable) {
      ++(kind == Characteristics::Missing ? m.without_characteristics : m.bad_characteristic);
      continue;
    }
    ReaderNodule n{reader, trimmed_text(child(node, "noduleID")), 0, {}, lines.line_of(node.offset_debug())};
    try {
      n.malignancy = parse_value<int>(child(chars, "malignancy"), "malignancy");
      if (n.malignancy < 1 || n.malignancy > 5) throw std::invalid_argument("malignancy " + std::to_string(n.malignancy) + " is not 1..5");
      for (const auto& roi : children(node, "roi")) {
        if (children(roi, "edgeMap").size() <= 1) {
          ++m.single_point_rois;
          continue;
        }
        n.rois.push_back(parse_roi(roi, lines));
      }
    } catch (const std::invalid_argument& e) {
      m.problems.push_back({m.file.string() + ":" + std::to_string(n.line), "nodule '" + n.nodule_id + "': " + e.what()});
      continue;
    }
    if (n.rois.empty()) {
      ++m.without_contours;
      continue;
    }
    m.nodules.push_back(std::move(n));
  }
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file, "cannot open the XML file");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

ReadMessage read_lidc_xml(const fs::path& file) {
  const std::string text = read_text(file);
  const LineIndex lines(text);
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed = doc.load_buffer(text.data(), text.size());
  if (!parsed)
    throw InputError(file, std::string("malformed XML: ") + parsed.description() + " (line " +
                               std::to_string(lines.line_of(parsed.offset)) + ")");
  ReadMessage m;
  m.file = file;
  const pugi::xml_node root = doc.document_element();
  m.root = std::string(local_name(root));
  if (m.root == "IdriReadMessage") m.kind = MessageKind::IdriRead;
  if (m.root != "LidcReadMessage") return m;
  m.kind = MessageKind::LidcRead;
  const pugi::xml_node header = child(root, "ResponseHeader");
  m.series_uid = trimmed_text(child(header, "SeriesInstanceUid"));
  m.study_uid = trimmed_text(child(header, "StudyInstanceUID"));
  if (m.series_uid.empty()) throw InputError(file, "malformed XML: LidcReadMessage without ResponseHeader/SeriesInstanceUid");
  for (const auto& session : children(root, "readingSession")) read_session(session, lines, m);
  return m;
}

}  // namespace mmb::lidc
