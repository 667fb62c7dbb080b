#pragma once
// Full-size benchmark inputs written in C++ (shared by bench_organ,
// bench_synapse and bench_peers): a LiTS-like CT volume and an EM slice stack.
#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <vector>

namespace mmb::bench {

namespace fs = std::filesystem;

constexpr int kNx = 512, kNy = 512, kNz = 400;

struct Organ {
  const char* name;
  int id, x1, x2, y1, y2, z1, z2, hu;
};

// LiTS-like extents (voxels) for a 512 x 512 x 400 abdomen-to-chest scan.
inline const std::vector<Organ> kOrgans = {
    {"liver", 1, 70, 378, 143, 369, 245, 345, 60},     {"kidney-r", 2, 120, 200, 250, 340, 200, 270, 150},
    {"kidney-l", 3, 310, 390, 250, 340, 200, 270, 150}, {"femur-r", 4, 110, 190, 200, 290, 20, 80, 700},
    {"femur-l", 5, 320, 400, 200, 290, 20, 80, 700},    {"bladder", 6, 210, 300, 180, 270, 60, 110, 10},
    {"heart", 7, 180, 330, 130, 260, 330, 390, 40},     {"lung-r", 8, 60, 240, 100, 330, 300, 399, -800},
    {"lung-l", 9, 270, 450, 100, 330, 300, 399, -800},  {"spleen", 10, 340, 430, 240, 360, 260, 330, 50},
    {"pancreas", 11, 180, 330, 220, 300, 240, 280, 30},
};

template <typename T>
inline void put(std::vector<char>& h, std::size_t offset, T value) {
  std::memcpy(h.data() + offset, &value, sizeof(T));
}

// A minimal NIfTI-1 single file (.nii): int16, 0.7 x 0.7 x 1.5 mm, sform = scaling.
inline void write_nifti(const fs::path& file, const std::vector<std::int16_t>& voxels) {
  std::vector<char> h(352, 0);
  put<std::int32_t>(h, 0, 348);
  const std::int16_t dim[8] = {3, kNx, kNy, kNz, 1, 1, 1, 1};
  std::memcpy(h.data() + 40, dim, sizeof dim);
  put<std::int16_t>(h, 70, 4);   // datatype: int16
  put<std::int16_t>(h, 72, 16);  // bitpix
  const float pixdim[8] = {1, 0.7f, 0.7f, 1.5f, 1, 1, 1, 1};
  std::memcpy(h.data() + 76, pixdim, sizeof pixdim);
  put<float>(h, 108, 352.0f);  // vox_offset
  put<float>(h, 112, 1.0f);    // scl_slope
  put<std::int16_t>(h, 254, 1);  // sform_code
  const float srow[12] = {-0.7f, 0, 0, 179, 0, -0.7f, 0, 179, 0, 0, 1.5f, -600};
  std::memcpy(h.data() + 280, srow, sizeof srow);
  std::memcpy(h.data() + 344, "n+1\0", 4);
  std::ofstream out(file, std::ios::binary);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  out.write(reinterpret_cast<const char*>(voxels.data()), static_cast<std::streamsize>(voxels.size() * 2));
}

// Air around a body ellipse of fat, each organ an ellipsoid in its box, noise sigma 10 HU.
inline void write_lits_fixture(const fs::path& source) {
  fs::create_directories(source / "Training Batch 1");
  std::vector<std::int16_t> hu(static_cast<std::size_t>(kNx) * kNy * kNz);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 10.0f);
  for (int k = 0; k < kNz; ++k)
    for (int j = 0; j < kNy; ++j)
      for (int i = 0; i < kNx; ++i) {
        const double dx = (i - 255.5) / 240.0, dy = (j - 255.5) / 200.0;
        float v = dx * dx + dy * dy <= 1.0 ? -100.0f : -1000.0f;
        for (const auto& o : kOrgans) {
          if (i < o.x1 || i > o.x2 || j < o.y1 || j > o.y2 || k < o.z1 || k > o.z2) continue;
          const double u = (2.0 * i - o.x1 - o.x2) / (o.x2 - o.x1 + 1), w = (2.0 * j - o.y1 - o.y2) / (o.y2 - o.y1 + 1),
                       z = (2.0 * k - o.z1 - o.z2) / (o.z2 - o.z1 + 1);
          if (u * u + w * w + z * z <= 1.0) v = static_cast<float>(o.hu);
        }
        hu[(static_cast<std::size_t>(k) * kNy + j) * kNx + i] = static_cast<std::int16_t>(std::lround(v + noise(rng)));
      }
  write_nifti(source / "Training Batch 1" / "volume-0.nii", hu);
  std::ofstream boxes(source / "segmentation-0.txt", std::ios::binary);
  for (const auto& o : kOrgans)
    boxes << o.name << " " << o.id << " " << o.x1 << " " << o.x2 << " " << o.y1 << " " << o.y2 << " " << o.z1 << " "
          << o.z2 << "\r\n";
}

constexpr int kCropXY = 128, kCropZ = 34;  // synapse crops: 1024 nm at 8 x 8 x 30 nm

// An EM-like slice: a smooth gradient, a per-slice offset and a noise tile.
inline cv::Mat slice_pixels(int side, int z, const cv::Mat& noise) {
  cv::Mat slice(side, side, CV_8UC1);
  for (int y = 0; y < side; ++y) {
    auto* row = slice.ptr<std::uint8_t>(y);
    const auto* n = noise.ptr<std::uint8_t>((y + 7 * z) % noise.rows);
    for (int x = 0; x < side; ++x) row[x] = static_cast<std::uint8_t>(100 + (x + y) * 40 / (2 * side) + (z % 8) + n[(x + 13 * z) % noise.cols] % 24);
  }
  return slice;
}

inline void write_volume(const fs::path& dir, int slices, int side) {
  fs::create_directories(dir / "im");
  cv::Mat noise(97, 101, CV_8UC1);
  cv::randu(noise, 0, 255);
  const hid_t file = H5Fcreate((dir / "volume.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[3] = {hsize_t(slices), hsize_t(side), hsize_t(side)}, chunk[3] = {1, 256, 256};
  const hid_t space = H5Screate_simple(3, dims, nullptr), create = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(create, 3, chunk);
  const hid_t ds = H5Dcreate2(file, "main", H5T_STD_U8LE, space, H5P_DEFAULT, create, H5P_DEFAULT);
  for (int z = 0; z < slices; ++z) {
    const cv::Mat s = slice_pixels(side, z, noise);
    char name[32];
    std::snprintf(name, sizeof name, "im%04d.png", z);
    cv::imwrite((dir / "im" / name).string(), s, {cv::IMWRITE_PNG_COMPRESSION, 1});
    const hsize_t start[3] = {hsize_t(z), 0, 0}, count[3] = {1, hsize_t(side), hsize_t(side)};
    const hid_t file_space = H5Dget_space(ds), memory = H5Screate_simple(3, count, nullptr);
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    H5Dwrite(ds, H5T_NATIVE_UINT8, memory, file_space, H5P_DEFAULT, s.data);
    H5Sclose(memory);
    H5Sclose(file_space);
  }
  H5Dclose(ds);
  H5Pclose(create);
  H5Sclose(space);
  H5Fclose(file);
}

struct Synapse {
  int x, y, z;
};

inline std::vector<Synapse> write_synapses(const fs::path& dir, int n, int slices, int side) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> xy(0, side - 1), z(0, slices - 1);
  std::vector<Synapse> out;
  std::ofstream csv(dir / "synapses.csv");
  csv << "id,x,y,z,label\n";
  for (int i = 0; i < n; ++i) {
    out.push_back({xy(rng), xy(rng), z(rng)});
    csv << "s" << i << "," << out.back().x << "," << out.back().y << "," << out.back().z << ","
        << (i % 3 ? "excitatory" : "inhibitory") << "\n";
  }
  return out;
}

inline void write_metadata(const fs::path& dir, bool hdf5) {
  std::ofstream toml(dir / "volume.toml");
  toml << "voxel_size_nm = [8, 8, 30]\n" << (hdf5 ? "hdf5 = \"volume.h5\"\ndataset = \"main\"\n" : "slices = \"im\"\n");
}

}  // namespace mmb::bench
