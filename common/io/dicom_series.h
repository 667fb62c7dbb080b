#pragma once
// CT DICOM series read with ITK/GDCM, as TCIA trees store them (any depth,
// either naming scheme). One scan of the tree groups files by
// SeriesInstanceUID; only Modality CT is kept.
#include <filesystem>
#include <string>
#include <vector>

#include "common/core/volume.h"

namespace mmb {

struct DicomSeries {
  std::string patient_id, study_uid, series_uid;
  std::filesystem::path folder;
  std::vector<std::filesystem::path> files;
};

// All CT series below root, sorted by (patient, series uid).
std::vector<DicomSeries> find_ct_series(const std::filesystem::path& root);

// HU volume: rescale slope/intercept applied; of duplicate z positions the
// slice with the smaller InstanceNumber is kept; slices sorted by z; z spacing
// from ImagePositionPatient, checked for gaps. Throws InputError naming the
// series folder (or the bad file) on a gap, a missing or unreadable slice.
Volume read_ct_series(const DicomSeries& series);

}  // namespace mmb
