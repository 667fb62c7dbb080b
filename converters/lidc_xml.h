#pragma once
// LIDC-IDRI reader XML (LidcReadMessage, as pylidc/_populate_db/populate.py parses it), read with
// pugixml, keeping what pylidc's ingest (populate.py) keeps:
//  * an unblindedReadNodule without characteristics, or with an empty one, or
//    with any characteristic whose text is '0' or empty, is skipped (nodules
//    < 3 mm have no characteristics);
//  * a roi with one edgeMap or none (a stray dot) is skipped;
//  * inclusion is text == "TRUE"; exclusion contours are kept (pylidc keeps them).
// The default namespace (xmlns="http://www.nih.gov") is handled by matching
// local names, as populate.py strips xmlns before parsing.
// Files with root IdriReadMessage (chest radiograph reads) are recognised and
// carry nothing; any other root is "other".
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace mmb::lidc {

struct Roi {
  double z = 0;           // imageZposition (mm)
  std::string sop_uid;    // imageSOP_UID
  bool inclusion = true;  // inclusion == "TRUE"
  std::vector<std::array<int, 2>> points;  // edgeMap (xCoord = column, yCoord = row)
  int line = 0;
};

// One reader's marking of one nodule that survived the ingest rules.
struct ReaderNodule {
  std::string reader;     // servicingRadiologistID of its readingSession
  std::string nodule_id;  // reader-local; not shared across readers
  int malignancy = 0;     // 1..5
  std::vector<Roi> rois;  // the kept rois, in document order
  int line = 0;           // of its <unblindedReadNodule>
};

enum class MessageKind { LidcRead, IdriRead, Other };

struct ReadMessage {
  std::filesystem::path file;
  MessageKind kind = MessageKind::Other;
  std::string root;  // the root element's local name
  std::string series_uid, study_uid;
  std::vector<ReaderNodule> nodules;  // document order: session by session
  // What the ingest rules left out (for the build's notes).
  int without_characteristics = 0, bad_characteristic = 0, single_point_rois = 0, without_contours = 0;
  // Values that do not parse ("file:line"); their nodule is left out.
  std::vector<Problem> problems;
};

// Throws InputError(file, "malformed XML: ...") when the file is not
// well-formed XML, cannot be read, or is a LidcReadMessage without
// ResponseHeader/SeriesInstanceUid.
ReadMessage read_lidc_xml(const std::filesystem::path& file);

}  // namespace mmb::lidc
