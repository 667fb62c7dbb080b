// converters/lidc_consensus + lidc_xml: pylidc's clustering on hand-computed
// annotations (including the shrinking tolerance and ClusterError), index-space
// conversion, the malignancy aggregates and their tie rules, and the XML ingest
// rules on small hand-written LidcReadMessage files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "converters/lidc_consensus.h"
#include "converters/lidc_xml.h"

namespace mmb::lidc {
namespace {

namespace fs = std::filesystem;

// A small square contour of side 2 around (row, column) on slice k.
Annotation square(int row, int col, int k, int malignancy = 3) {
  Annotation a;
  a.malignancy = malignancy;
  a.points = {{row - 1, col - 1, k}, {row - 1, col + 1, k}, {row + 1, col + 1, k}, {row + 1, col - 1, k}};
  return a;
}

TEST(MinPointDistance, IsTheSmallestEuclideanDistanceInIndexUnits) {
  EXPECT_DOUBLE_EQ(min_point_distance(square(10, 10, 5), square(10, 10, 5)), 0.0);
  EXPECT_DOUBLE_EQ(min_point_distance(square(10, 10, 5), square(10, 10, 7)), 2.0);  // slices, not mm
  EXPECT_DOUBLE_EQ(min_point_distance(square(10, 10, 5), square(13, 14, 5)), std::sqrt(1.0 + 4.0));
}

TEST(ClusterAnnotations, ZeroAndOneAnnotation) {
  EXPECT_TRUE(cluster_annotations({}, {2.5}).clusters.empty());
  const auto one = cluster_annotations({square(1, 1, 1)}, {2.5});
  ASSERT_EQ(one.clusters.size(), 1u);
  EXPECT_EQ(one.clusters[0], (std::vector<std::size_t>{0}));
}

TEST(ClusterAnnotations, ConnectedComponentsWithinTolSortedByMeanCentroidK) {
  // 0 and 2 are 1 apart; 1 is 2.0 (two slices) from 2 and far from 0: single
  // linkage chains 0-2-1. 3 is alone and lower in k.
  const std::vector<Annotation> a = {square(10, 10, 8), square(10, 10, 11), square(10, 10, 9), square(40, 40, 2)};
  const auto c = cluster_annotations(a, {2.5});
  EXPECT_DOUBLE_EQ(c.tol, 2.5);
  ASSERT_EQ(c.clusters.size(), 2u);
  EXPECT_EQ(c.clusters[0], (std::vector<std::size_t>{3}));
  EXPECT_EQ(c.clusters[1], (std::vector<std::size_t>{0, 1, 2}));
}

TEST(ClusterAnnotations, FiveWithinTolShrinkTolUntilTheySplit) {
  // Nodule A: three readers on slice 5 (distances 0 and 1). Nodule B: two
  // readers on slice 7, their points exactly 2 index units above A's. One mark
  // far away. tol = 2.5 (SliceThickness) joins A and B: 5 > 4 annotations. 2.25
  // and 2.025 still join them (2 <= tol); 2.5 * 0.9^3 = 1.8225 splits them, and
  // A's readers (1 apart) stay together.
  const std::vector<Annotation> a = {square(20, 20, 5, 2), square(20, 20, 7, 1), square(21, 20, 5, 2),
                                     square(60, 60, 30, 5), square(20, 21, 5, 1), square(20, 20, 7, 1)};
  const auto c = cluster_annotations(a, {2.5});
  EXPECT_NEAR(c.tol, 1.8225, 1e-12);
  ASSERT_EQ(c.clusters.size(), 3u);
  EXPECT_EQ(c.clusters[0], (std::vector<std::size_t>{0, 2, 4}));  // mean k 5
  EXPECT_EQ(c.clusters[1], (std::vector<std::size_t>{1, 5}));     // mean k 7
  EXPECT_EQ(c.clusters[2], (std::vector<std::size_t>{3}));        // mean k 30
}

TEST(ClusterAnnotations, FiveIdenticalMarksCannotBeSplitAndRaiseClusterError) {
  const std::vector<Annotation> a(5, square(10, 10, 10));
  EXPECT_THROW(cluster_annotations(a, {2.5}), ClusterError);
}

TEST(ClusterAnnotations, EqualMeanKKeepsComponentOrder) {
  const auto c = cluster_annotations({square(50, 50, 4), square(10, 10, 4), square(50, 51, 4)}, {1.5});
  ASSERT_EQ(c.clusters.size(), 2u);
  EXPECT_EQ(c.clusters[0], (std::vector<std::size_t>{0, 2}));  // component of annotation 0 first
  EXPECT_EQ(c.clusters[1], (std::vector<std::size_t>{1}));
}

TEST(IndexSpace, NearestSliceTakesTheFirstOfEqualDistances) {
  const std::vector<double> z = {-10.0, -7.5, -5.0, -2.5};
  EXPECT_EQ(nearest_slice(z, -7.5), 1);
  EXPECT_EQ(nearest_slice(z, -6.25), 1);  // halfway between slices 1 and 2
  EXPECT_EQ(nearest_slice(z, 100.0), 3);
}

TEST(IndexSpace, RoisSortedByZPointsAsRowColumnSliceExclusionsIncluded) {
  ReaderNodule n;
  n.malignancy = 4;
  n.rois = {{-5.0, "b", true, {{30, 10}, {31, 10}}, 0},   // x = column 30, y = row 10
            {-10.0, "a", true, {{33, 12}, {34, 12}}, 0},
            {-5.0, "c", false, {{40, 20}, {41, 20}}, 0}};  // exclusion: kept, after "b" (stable)
  const Annotation a = to_index_space(n, {-10.0, -7.5, -5.0});
  const std::vector<IndexPoint> expected = {{12, 33, 0}, {12, 34, 0}, {10, 30, 2}, {10, 31, 2}, {20, 40, 2}, {20, 41, 2}};
  EXPECT_EQ(a.points, expected);
  const auto c = a.centroid();
  EXPECT_DOUBLE_EQ(c[0], (12 + 12 + 10 + 10 + 20 + 20) / 6.0);
  EXPECT_DOUBLE_EQ(c[1], (33 + 34 + 30 + 31 + 40 + 41) / 6.0);
  EXPECT_DOUBLE_EQ(c[2], 8.0 / 6.0);
}

TEST(ClusterCentroid, IsTheMeanOfTheMembersCentroids) {
  const std::vector<Annotation> a = {square(10, 10, 4), square(20, 30, 6), square(90, 90, 90)};
  const auto c = cluster_centroid(a, {0, 1});
  EXPECT_DOUBLE_EQ(c[0], 15.0);
  EXPECT_DOUBLE_EQ(c[1], 20.0);
  EXPECT_DOUBLE_EQ(c[2], 5.0);
}

TEST(Malignancy, ModeAndTheDropOfThree) {
  const MalignancyRule mode;
  EXPECT_EQ(aggregate_malignancy({4, 5, 4, 4}, mode), 4);
  EXPECT_EQ(aggregate_malignancy({2, 2, 3}, mode), 2);
  EXPECT_EQ(aggregate_malignancy({3, 3, 4}, mode), 3);
  EXPECT_EQ(malignancy_label(1), 0);
  EXPECT_EQ(malignancy_label(2), 0);
  EXPECT_EQ(malignancy_label(3), std::nullopt);
  EXPECT_EQ(malignancy_label(4), 1);
  EXPECT_EQ(malignancy_label(5), 1);
}

TEST(Malignancy, ModeTieRules) {
  EXPECT_EQ(aggregate_malignancy({4, 2, 4, 2}, {Aggregate::Mode, ModeTie::Lowest}), 2);
  EXPECT_EQ(aggregate_malignancy({4, 2, 4, 2}, {Aggregate::Mode, ModeTie::Highest}), 4);
  EXPECT_EQ(aggregate_malignancy({4, 2, 4, 2}, {Aggregate::Mode, ModeTie::Median}), 3);  // split readers: dropped
  EXPECT_EQ(aggregate_malignancy({1, 2}, {Aggregate::Mode, ModeTie::Median}), 1.5);      // benign either way
  EXPECT_EQ(malignancy_label(1.5), 0);
  EXPECT_EQ(aggregate_malignancy({5, 1, 2, 4}, {Aggregate::Mode, ModeTie::Median}), 3);
}

TEST(Malignancy, MedianHighIsStatisticsMedianHigh) {
  const MalignancyRule median{Aggregate::MedianHigh, ModeTie::Lowest};
  EXPECT_EQ(aggregate_malignancy({2, 4}, median), 4);
  EXPECT_EQ(aggregate_malignancy({4, 1, 2}, median), 2);
  EXPECT_EQ(aggregate_malignancy({2, 2, 4, 5}, median), 4);  // the mode says 2
  EXPECT_THROW(aggregate_malignancy({}, median), std::invalid_argument);
  EXPECT_THROW(parse_aggregate("mean"), std::invalid_argument);
  EXPECT_EQ(parse_mode_tie("highest"), ModeTie::Highest);
}

// ---- XML -------------------------------------------------------------------------------

class LidcXml : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mmb-lidc-xml-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }
  fs::path dir_;
};

std::string roi(double z, int points, const char* inclusion = "TRUE") {
  std::string s = "<roi><imageZposition>" + std::to_string(z) + " </imageZposition><imageSOP_UID>1.2." +
                  std::to_string(static_cast<int>(-z)) + "</imageSOP_UID><inclusion>" + inclusion + "</inclusion>";
  for (int p = 0; p < points; ++p)
    s += "<edgeMap><xCoord>" + std::to_string(100 + p) + "</xCoord><yCoord>" + std::to_string(200 + p) + "</yCoord></edgeMap>";
  return s + "</roi>";
}

std::string chars(const std::string& malignancy, const std::string& subtlety = "4") {
  return "<characteristics><subtlety>" + subtlety + "</subtlety><internalStructure>1</internalStructure>"
         "<malignancy>" + malignancy + "</malignancy></characteristics>";
}

std::string message(const std::string& sessions) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<LidcReadMessage xmlns=\"http://www.nih.gov\">\r\n"
         "<ResponseHeader><SeriesInstanceUid> 1.2.3.4 </SeriesInstanceUid><StudyInstanceUID>1.2.3</StudyInstanceUID>"
         "</ResponseHeader>\r\n" + sessions + "</LidcReadMessage>\r\n";
}

TEST_F(LidcXml, KeepsWhatPylidcIngestKeeps) {
  const std::string session =
      "<readingSession><servicingRadiologistID>R1</servicingRadiologistID>"
      "<unblindedReadNodule><noduleID>Nodule 001</noduleID>" + chars("4") + roi(-10, 3) + roi(-12.5, 1) +
      roi(-12.5, 4, "FALSE") + "</unblindedReadNodule>"
      "<unblindedReadNodule><noduleID>small</noduleID>" + roi(-20, 1) + "</unblindedReadNodule>"
      "<unblindedReadNodule><noduleID>zero</noduleID>" + chars("5", "0") + roi(-30, 3) + "</unblindedReadNodule>"
      "<unblindedReadNodule><noduleID>empty</noduleID><characteristics/>" + roi(-30, 3) + "</unblindedReadNodule>"
      "<unblindedReadNodule><noduleID>blank</noduleID>" + chars("5", " ") + roi(-30, 3) + "</unblindedReadNodule>"
      "<unblindedReadNodule><noduleID>dots</noduleID>" + chars("2") + roi(-40, 1) + "</unblindedReadNodule>"
      "<nonNodule><nonNoduleID>n</nonNoduleID><imageZposition>-5</imageZposition></nonNodule>"
      "</readingSession>\r\n";
  const ReadMessage m = read_lidc_xml(write("069.xml", message(session)));
  EXPECT_EQ(m.kind, MessageKind::LidcRead);
  EXPECT_EQ(m.series_uid, "1.2.3.4");
  ASSERT_EQ(m.nodules.size(), 1u);
  const ReaderNodule& n = m.nodules[0];
  EXPECT_EQ(n.reader, "R1");
  EXPECT_EQ(n.nodule_id, "Nodule 001");
  EXPECT_EQ(n.malignancy, 4);
  ASSERT_EQ(n.rois.size(), 2u);  // the one-point roi is skipped
  EXPECT_DOUBLE_EQ(n.rois[0].z, -10.0);
  EXPECT_EQ(n.rois[0].points[1], (std::array<int, 2>{101, 201}));
  EXPECT_TRUE(n.rois[0].inclusion);
  EXPECT_FALSE(n.rois[1].inclusion);
  EXPECT_EQ(m.without_characteristics, 2);  // "small" and "empty"
  EXPECT_EQ(m.bad_characteristic, 2);       // "zero" and "blank"
  EXPECT_EQ(m.without_contours, 1);         // "dots": only single-point rois
  EXPECT_EQ(m.single_point_rois, 2);
  EXPECT_EQ(n.line, 4);
}

TEST_F(LidcXml, PrefixedNamespacesAreMatchedByLocalName) {
  const std::string text =
      "<nih:LidcReadMessage xmlns:nih=\"http://www.nih.gov\"><nih:ResponseHeader><nih:SeriesInstanceUid>9.9"
      "</nih:SeriesInstanceUid></nih:ResponseHeader><nih:readingSession><nih:unblindedReadNodule>"
      "<nih:noduleID>1</nih:noduleID><nih:characteristics><nih:malignancy>5</nih:malignancy></nih:characteristics>"
      "<nih:roi><nih:imageZposition>-1</nih:imageZposition><nih:inclusion>TRUE</nih:inclusion>"
      "<nih:edgeMap><nih:xCoord>1</nih:xCoord><nih:yCoord>2</nih:yCoord></nih:edgeMap>"
      "<nih:edgeMap><nih:xCoord>3</nih:xCoord><nih:yCoord>4</nih:yCoord></nih:edgeMap></nih:roi>"
      "</nih:unblindedReadNodule></nih:readingSession></nih:LidcReadMessage>";
  const ReadMessage m = read_lidc_xml(write("ns.xml", text));
  EXPECT_EQ(m.series_uid, "9.9");
  ASSERT_EQ(m.nodules.size(), 1u);
  EXPECT_EQ(m.nodules[0].malignancy, 5);
}

TEST_F(LidcXml, RadiographReadsAreRecognisedAndCarryNothing) {
  const ReadMessage m = read_lidc_xml(write("071.xml", "<IdriReadMessage xmlns=\"http://www.nih.gov/idri\"/>"));
  EXPECT_EQ(m.kind, MessageKind::IdriRead);
  EXPECT_TRUE(m.nodules.empty());
  EXPECT_EQ(read_lidc_xml(write("x.xml", "<svg/>")).kind, MessageKind::Other);
}

TEST_F(LidcXml, MalformedXmlIsAnErrorNamingTheFileAndLine) {
  const fs::path file = write("bad.xml", message("<readingSession>\n<unblindedReadNodule>\n</readingSession>"));
  try {
    read_lidc_xml(file);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), file);
    EXPECT_NE(e.reason().find("malformed XML"), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find("(line 6)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_lidc_xml(write("noheader.xml", "<LidcReadMessage/>")), InputError);
  EXPECT_THROW(read_lidc_xml(dir_ / "absent.xml"), InputError);
}

TEST_F(LidcXml, AnUnparsableValueIsAProblemAtItsLineAndItsNoduleIsLeftOut) {
  const std::string session = "<readingSession>\r\n<unblindedReadNodule><noduleID>A</noduleID>" + chars("high") +
                              roi(-1, 3) + "</unblindedReadNodule>\r\n<unblindedReadNodule><noduleID>B</noduleID>" +
                              chars("2") + roi(-1, 3) + "</unblindedReadNodule></readingSession>";
  const fs::path file = write("values.xml", message(session));
  const ReadMessage m = read_lidc_xml(file);
  ASSERT_EQ(m.problems.size(), 1u);
  EXPECT_EQ(m.problems[0].where, file.string() + ":5");
  EXPECT_NE(m.problems[0].reason.find("'high'"), std::string::npos);
  ASSERT_EQ(m.nodules.size(), 1u);
  EXPECT_EQ(m.nodules[0].nodule_id, "B");
}

}  // namespace
}  // namespace mmb::lidc
