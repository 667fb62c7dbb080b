#pragma once
// CT DICOM series read with ITK/GDCM, as TCIA trees store them (any depth,
// either naming scheme). One scan of the tree groups files by
// SeriesInstanceUID; only Modality CT is kept.
//
// Two passes, each touching a file once:
//  * find_ct_series / scan_dicom_tree: gdcm::Scanner reads the header tags
//    below (never the pixels) of every candidate file of the tree in one go
//    and groups them by SeriesInstanceUID (never re-scan the tree per series:
//    SimpleITK issue #1309, ~10 min for a folder of ~80 series).
//  * read_ct_series: each file of one series is read once with
//    itk::GDCMImageIO (set explicitly, no factory probing), which applies
//    RescaleSlope/RescaleIntercept, so voxels are HU.
// Slice order (pylidc's rule, notmatthancock/pylidc pylidc/Scan.py
// load_all_dicom_images): of slices sharing a z
// (ImagePositionPatient[2]) the one with the smaller InstanceNumber is kept;
// the rest are sorted by z. The slice step is taken from the positions
// (never from SliceThickness, the nominal thickness: DICOM PS3.3 C.7.6.2) and checked: a gap or an
// uneven step is an InputError naming the series folder and the two slices.
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/core/volume.h"

namespace mmb {

// One file of a series, as its header says.
struct DicomSlice {
  std::filesystem::path file;
  std::string sop_uid;                   // SOPInstanceUID (0008,0018)
  std::array<double, 3> position{};      // ImagePositionPatient (0020,0032), mm
  int instance_number = 0;               // InstanceNumber (0020,0013); 0 if absent
  double z() const { return position[2]; }
};

struct DicomSeries {
  std::string patient_id, study_uid, series_uid;
  std::filesystem::path folder;              // the folder holding the first file
  std::vector<std::filesystem::path> files;  // every file of the series, path order
  // From the header scan:
  std::vector<DicomSlice> slices;      // the volume's slices in k order (duplicates dropped, sorted by z)
  std::vector<DicomSlice> duplicates;  // same z as a kept slice, larger InstanceNumber: not read
  double slice_thickness = 0;          // SliceThickness (0018,0050) of slice 0; 0 if absent
  // Files of this series' folder that GDCM could not parse as DICOM
  // (candidate names only: *.dcm or no extension), or CT slices without a
  // usable ImagePositionPatient. read_ct_series refuses the series while
  // there are any, naming the first.
  std::vector<Problem> unreadable;
};

// Everything one scan of a tree found.
struct DicomTree {
  std::vector<DicomSeries> ct;                      // sorted by (patient, series uid)
  std::vector<std::string> skipped_series;          // "CR LIDC-IDRI-0001/...": other modalities
  std::vector<Problem> unreadable;                  // every candidate file GDCM could not parse
};

// Scans every candidate file below root once (names ending in .dcm, any
// case, or without an extension; junk names skipped).
DicomTree scan_dicom_tree(const std::filesystem::path& root);

// All CT series below root, sorted by (patient, series uid).
std::vector<DicomSeries> find_ct_series(const std::filesystem::path& root);

// Pylidc's slice order: duplicates of a z dropped (the larger InstanceNumber,
// then the later path goes), the rest sorted by z. Returns the kept slices;
// the dropped ones are appended to *dropped if given.
std::vector<DicomSlice> order_slices(std::vector<DicomSlice> slices, std::vector<DicomSlice>* dropped = nullptr);

struct SliceStepCheck {
  // A step may differ from the median step by this fraction of it; a step of
  // more than gap_factor times the median is reported as a gap (a missing slice).
  double relative_tolerance = 0.1;
  double gap_factor = 1.5;
};

// The median distance between consecutive slice positions (ordered slices).
// Throws InputError(folder, ...) naming the two slices at a gap or an uneven
// step, or two slices at the same position. One slice: returns 0.
double checked_slice_step(const std::vector<DicomSlice>& ordered, const std::filesystem::path& folder,
                          const SliceStepCheck& check = {});

// HU volume: rescale slope/intercept applied; of duplicate z positions the
// slice with the smaller InstanceNumber is kept; slices sorted by z; z spacing
// from ImagePositionPatient, checked for gaps. Throws InputError naming the
// series folder (or the bad file) on a gap, a missing or unreadable slice, or
// a slice whose size, pixel spacing or orientation differs from the others.
// The volume's axes: i = column, j = row (ImageOrientationPatient's row and
// column cosines), k = slice in z order (direction: from slice 0 towards the
// last one; one slice: the normal, with SliceThickness as spacing, else 1).
Volume read_ct_series(const DicomSeries& series, const SliceStepCheck& check = {});

// "" when the file is safe to hand to GDCM, else why not: a Part 10 file cut inside
// its file meta information (GDCM 3.0 aborts on those) or a file too short to be one.
std::string dicom_meta_problem(const std::filesystem::path& file);

// `check`'s probe of one slice without decoding it: "" when GDCM parses the header, the
// file holds a PixelData element, and (uncompressed) the Rows x Columns x samples x
// BitsAllocated bytes the header states; else the reason. probe_dicom_folder probes the
// candidate files (*.dcm, no extension) of one series folder and names the first bad one.
std::string probe_dicom_file(const std::filesystem::path& file);
std::string probe_dicom_folder(const std::filesystem::path& folder);

}  // namespace mmb
