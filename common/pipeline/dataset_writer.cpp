#include "common/pipeline/dataset_writer.h"

#include <stdexcept>

#include "common/pipeline/build.h"

namespace mmb {

std::string npz_file_name(const std::string& flag, int size) {
  return size == 28 ? flag + ".npz" : flag + "_" + std::to_string(size) + ".npz";
}

std::vector<std::size_t> item_shape(const Manifest& m, int size) {
  const auto s = static_cast<std::size_t>(size);
  if (m.dim == 3) return {s, s, s};
  if (m.n_channels == 3) return {s, s, 3};
  return {s, s};
}

DatasetWriter::DatasetWriter(const Manifest& manifest, const std::vector<int>& sizes,
                             const std::filesystem::path& out_dir, const NpzOptions& options, Layout layout,
                             const std::string& name_prefix)
    : manifest_(manifest), layout_(layout), sizes_(sizes) {
  for (int size : sizes_)
    files_.push_back(
        std::make_unique<NpzWriter>(out_dir / (name_prefix + npz_file_name(manifest.flag, size)), options));
  if (layout_ == Layout::OneArray)
    for (std::size_t i = 0; i < files_.size(); ++i) files_[i]->begin_array("images", item_shape(manifest_, sizes_[i]));
  open_split(0);
}

void DatasetWriter::open_split(int split) {
  current_ = split;
  labels_.clear();
  if (layout_ == Layout::OneArray) return;
  const std::string name = std::string(split_name(static_cast<Split>(split))) + "_images";
  for (std::size_t i = 0; i < files_.size(); ++i) files_[i]->begin_array(name, item_shape(manifest_, sizes_[i]));
}

void DatasetWriter::close_split(int split) {
  if (layout_ == Layout::OneArray) {
    if (split == 2)
      for (auto& f : files_) f->end_array();
    return;
  }
  const std::string name = std::string(split_name(static_cast<Split>(split))) + "_labels";
  const std::size_t n = manifest_.label_width == 0 ? 0 : labels_.size() / manifest_.label_width;
  for (auto& f : files_) {
    f->end_array();
    f->add_array(name, {manifest_.label_width}, labels_.data(), n);
  }
}

void DatasetWriter::advance_to(Split split) {
  const int target = static_cast<int>(split);
  if (target < current_) throw std::logic_error("samples must arrive ordered by split");
  while (current_ < target) {
    close_split(current_);
    if (current_ + 1 > 2) { current_ = 3; return; }
    open_split(current_ + 1);
  }
}

void DatasetWriter::add(const Sample& sample, const std::vector<Image>& images) {
  if (sample.split == Split::Unassigned) throw std::logic_error("sample " + sample.id + " has no split");
  advance_to(sample.split);
  for (std::size_t i = 0; i < files_.size(); ++i) files_[i]->append(images[i].pixels.data(), images[i].byte_size());
  labels_.insert(labels_.end(), sample.label.begin(), sample.label.end());
  ids_[current_].push_back(sample.id);
}

std::vector<std::filesystem::path> DatasetWriter::commit() {
  advance_to(Split::Unassigned);  // closes test (and any empty split before it)
  std::vector<std::filesystem::path> paths;
  for (auto& f : files_) {
    f->commit();
    paths.push_back(f->final_path());
  }
  return paths;
}

std::vector<std::pair<std::filesystem::path, std::filesystem::path>> DatasetWriter::finish() {
  advance_to(Split::Unassigned);
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> files;
  for (auto& f : files_) {
    f->finish();
    files.emplace_back(f->temp_path(), f->final_path());
  }
  return files;
}

void DatasetWriter::abort() {
  for (auto& f : files_) f->abort();
}

}  // namespace mmb
