#pragma once
// The listing side of NoduleMNIST3D: which reader XML belongs to which CT
// series, slices the XML names but the tree lacks, and the counts the build
// reports (what pylidc's ingest rules and the label rule left out).
#include <filesystem>
#include <map>
#include <string>

#include "common/core/sample.h"
#include "common/io/dicom_series.h"
#include "converters/lidc_xml.h"

namespace mmb::lidc {

struct ListingTally {
  int without_characteristics = 0, bad_characteristic = 0, single_point_rois = 0, without_contours = 0;
  int clusters = 0, indeterminate = 0, too_few_readers = 0, idri = 0, other_xml = 0;
  void count_ingest(const ReadMessage& message);
};

// Series UID -> its LidcReadMessage, from every *.xml below source. Malformed
// files go to e.problems; IdriReadMessage and other XML are counted. When two
// XMLs name one series, one whose name says "resubmitted" wins (pylidc
// replaces 161.xml with "161-resubmitted"), else the first in path order.
std::map<std::string, ReadMessage> read_messages(const std::filesystem::path& source, Enumeration& e, ListingTally& t);

// A roi whose imageZposition is no slice's z and whose imageSOP_UID is in no
// file of the series: that slice file is missing. One e.missing entry per
// SOPInstanceUID.
void report_missing_slices(const DicomSeries& series, const ReadMessage& message, const std::filesystem::path& source,
                           Enumeration& e);

void report_tally(const ListingTally& t, Enumeration& e);

}  // namespace mmb::lidc
