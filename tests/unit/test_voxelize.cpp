// OBJ reading, mesh repair and solid voxelisation (common/io/mesh_file.h,
// common/ops/voxelize.h), checked against analytic volumes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include <vtkCellArray.h>
#include <vtkPoints.h>

#include "common/core/error.h"
#include "common/io/mesh_file.h"
#include "common/ops/voxelize.h"

namespace fs = std::filesystem;
using namespace mmb;

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Mesh {
  std::vector<std::array<double, 3>> points;
  std::vector<std::array<int, 3>> faces;  // 0-based

  void append(const Mesh& other) {
    const int base = static_cast<int>(points.size());
    points.insert(points.end(), other.points.begin(), other.points.end());
    for (auto f : other.faces) faces.push_back({f[0] + base, f[1] + base, f[2] + base});
  }
  // Every face with its own three points: all seams become duplicate points.
  Mesh soup() const {
    Mesh out;
    for (const auto& f : faces) {
      const int base = static_cast<int>(out.points.size());
      for (int k : f) out.points.push_back(points[k]);
      out.faces.push_back({base, base + 1, base + 2});
    }
    return out;
  }
  vtkSmartPointer<vtkPolyData> poly() const {
    vtkNew<vtkPoints> pts;
    for (const auto& p : points) pts->InsertNextPoint(p.data());
    vtkNew<vtkCellArray> cells;
    for (const auto& f : faces) {
      const vtkIdType ids[3] = {f[0], f[1], f[2]};
      cells->InsertNextCell(3, ids);
    }
    auto out = vtkSmartPointer<vtkPolyData>::New();
    out->SetPoints(pts);
    out->SetPolys(cells);
    return out;
  }
};

// A latitude/longitude sphere (closed; poles are single points).
Mesh sphere(double r, int rings = 96, int around = 192, std::array<double, 3> c = {0, 0, 0}) {
  Mesh m;
  m.points.push_back({c[0], c[1], c[2] + r});
  for (int i = 1; i < rings; ++i) {
    const double phi = kPi * i / rings;
    for (int j = 0; j < around; ++j) {
      const double t = 2 * kPi * j / around;
      m.points.push_back({c[0] + r * std::sin(phi) * std::cos(t), c[1] + r * std::sin(phi) * std::sin(t),
                          c[2] + r * std::cos(phi)});
    }
  }
  m.points.push_back({c[0], c[1], c[2] - r});
  const int south = static_cast<int>(m.points.size()) - 1;
  auto at = [&](int ring, int j) { return 1 + (ring - 1) * around + (j % around); };
  for (int j = 0; j < around; ++j) m.faces.push_back({0, at(1, j), at(1, j + 1)});
  for (int i = 1; i + 1 < rings; ++i)
    for (int j = 0; j < around; ++j) {
      m.faces.push_back({at(i, j), at(i + 1, j), at(i + 1, j + 1)});
      m.faces.push_back({at(i, j), at(i + 1, j + 1), at(i, j + 1)});
    }
  for (int j = 0; j < around; ++j) m.faces.push_back({south, at(rings - 1, j + 1), at(rings - 1, j)});
  return m;
}

// A tube along z from 0 to h; with caps it is closed (fan caps around a centre point).
Mesh cylinder(double r, double h, bool caps, int around = 192, int rings = 40) {
  Mesh m;
  for (int i = 0; i <= rings; ++i)
    for (int j = 0; j < around; ++j) {
      const double t = 2 * kPi * j / around;
      m.points.push_back({r * std::cos(t), r * std::sin(t), h * i / rings});
    }
  auto at = [&](int i, int j) { return i * around + (j % around); };
  for (int i = 0; i < rings; ++i)
    for (int j = 0; j < around; ++j) {
      m.faces.push_back({at(i, j), at(i, j + 1), at(i + 1, j + 1)});
      m.faces.push_back({at(i, j), at(i + 1, j + 1), at(i + 1, j)});
    }
  if (caps) {
    const int bottom = static_cast<int>(m.points.size());
    m.points.push_back({0, 0, 0});
    m.points.push_back({0, 0, h});
    for (int j = 0; j < around; ++j) {
      m.faces.push_back({bottom, at(0, j + 1), at(0, j)});
      m.faces.push_back({bottom + 1, at(rings, j), at(rings, j + 1)});
    }
  }
  return m;
}

std::size_t filled(const Image& img) {
  return static_cast<std::size_t>(std::count(img.pixels.begin(), img.pixels.end(), std::uint8_t{255}));
}

// Analytic volume in voxels of the grid fitted to a mesh whose longest extent is `extent`.
double voxels_of(double volume, double extent, int n) {
  const double pitch = extent / (n - 2);
  return volume / (pitch * pitch * pitch);
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("mmb-vox-" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }

 private:
  fs::path path_;
};

std::string obj_text(const Mesh& m, bool slashes) {
  std::ostringstream out;
  out.precision(17);
  for (const auto& p : m.points) out << "v " << p[0] << " " << p[1] << " " << p[2] << "\n";
  for (const auto& f : m.faces) {
    out << "f";
    for (int k : f) out << " " << k + 1 << (slashes ? "//" + std::to_string(k + 1) : "");
    out << "\n";
  }
  return out.str();
}

}  // namespace

TEST(Voxelize, ClosedSphereMatchesItsAnalyticVolumeWithin3PercentAt64) {
  const double r = 7.5;
  const auto closed = repair_to_watertight(sphere(r).poly());
  EXPECT_EQ(closed.report.boundary_edges, 0u);
  EXPECT_NEAR(closed.report.volume, 4.0 / 3 * kPi * r * r * r, 0.01 * 4.0 / 3 * kPi * r * r * r);
  const double expected = voxels_of(4.0 / 3 * kPi * r * r * r, 2 * r, 64);  // 4/3 pi 31^3
  EXPECT_NEAR(static_cast<double>(filled(voxelize_solid(closed.surface, 64))), expected, 0.03 * expected);
  const double at28 = voxels_of(4.0 / 3 * kPi * r * r * r, 2 * r, 28);
  EXPECT_NEAR(static_cast<double>(filled(voxelize_solid(closed.surface, 28))), at28, 0.06 * at28);
}

TEST(Voxelize, CappedCylinderMatchesItsAnalyticVolumeWithin3PercentAt64) {
  const double r = 3, h = 20;
  const auto closed = repair_to_watertight(cylinder(r, h, true).poly());
  EXPECT_EQ(closed.report.boundary_edges, 0u);
  const double expected = voxels_of(kPi * r * r * h, h, 64);
  EXPECT_NEAR(static_cast<double>(filled(voxelize_solid(closed.surface, 64))), expected, 0.03 * expected);
}

TEST(Voxelize, OpenTubeIsCappedToTheSameSolid) {
  // IntrA segments are open tubes; repair must close both ends (MeshFix caps them).
  const double r = 3, h = 20;
  const auto open = repair_to_watertight(cylinder(r, h, false).poly());
  EXPECT_EQ(open.report.boundary_edges, 2u * 192u);
  EXPECT_EQ(count_boundary_edges(open.surface), 0u);
  EXPECT_NEAR(open.report.volume, kPi * r * r * h, 0.01 * kPi * r * r * h);
  const auto capped = voxelize_solid(repair_to_watertight(cylinder(r, h, true).poly()).surface, 64);
  const auto from_open = voxelize_solid(open.surface, 64);
  EXPECT_NEAR(static_cast<double>(filled(from_open)), static_cast<double>(filled(capped)), 0.01 * filled(capped));
}

TEST(Voxelize, TriangleSoupIsWeldedBeforeHolesAreFilled) {
  const Mesh tube = cylinder(3, 20, true, 48, 10);
  const auto welded = repair_to_watertight(tube.soup().poly());
  EXPECT_EQ(welded.report.welded_points, tube.soup().points.size() - tube.points.size());
  EXPECT_EQ(welded.report.boundary_edges, 0u);
  EXPECT_NEAR(welded.report.volume, repair_to_watertight(tube.poly()).report.volume, 1e-9);
}

TEST(Voxelize, SideWallHolesAreClosed) {
  Mesh tube = cylinder(3, 20, true);
  tube.faces.erase(tube.faces.begin() + 2000, tube.faces.begin() + 2006);  // a hole in the side wall
  const auto closed = repair_to_watertight(tube.poly());
  EXPECT_GT(closed.report.boundary_edges, 0u);
  EXPECT_EQ(count_boundary_edges(closed.surface), 0u);
  EXPECT_NEAR(closed.report.volume, kPi * 9 * 20, 0.01 * kPi * 9 * 20);
}

TEST(Voxelize, OnlyTheLargestComponentIsKept) {
  Mesh both = sphere(5, 48, 96);
  both.append(sphere(0.5, 8, 16, {40, 0, 0}));  // a stray fragment far away
  const auto kept = repair_to_watertight(both.poly());
  EXPECT_EQ(kept.report.dropped_faces, sphere(0.5, 8, 16).faces.size());
  double b[6];
  kept.surface->GetBounds(b);
  EXPECT_NEAR(b[1], 5, 1e-9);  // the fragment no longer stretches the fit
}

TEST(Voxelize, DegenerateOrEmptyMeshesAreRepairErrors) {
  Mesh collinear;
  for (int i = 0; i < 10; ++i) collinear.points.push_back({double(i), 2.0 * i, 0});
  for (int i = 0; i + 2 < 10; ++i) collinear.faces.push_back({i, i + 1, i + 2});
  EXPECT_THROW(repair_to_watertight(collinear.poly()), MeshRepairError);
  Mesh repeated;
  repeated.points = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
  repeated.faces = {{0, 1, 2}};
  try {
    repair_to_watertight(repeated.poly());
    FAIL() << "expected MeshRepairError";
  } catch (const MeshRepairError& e) {
    EXPECT_NE(std::string(e.what()).find("no face left"), std::string::npos) << e.what();
  }
}

TEST(Voxelize, FitKeepsAspectRatioCentresTheObjectAndLeavesTheBorderEmpty) {
  const GridFit fit = fit_isotropic_grid({0, 10, 0, 5, 0, 2}, 28);
  EXPECT_DOUBLE_EQ(fit.pitch, 10.0 / 26);
  EXPECT_DOUBLE_EQ(fit.origin[0] + fit.pitch * 27 / 2, 5.0);  // grid centre = bbox centre
  EXPECT_DOUBLE_EQ(fit.origin[1] + fit.pitch * 27 / 2, 2.5);
  const auto closed = repair_to_watertight(cylinder(2, 20, true).poly());
  const Image img = voxelize_solid(closed.surface, 28);
  ASSERT_EQ(img.width, 28);
  ASSERT_EQ(img.depth, 28);
  int zmin = 28, zmax = -1, xmin = 28, xmax = -1;
  for (int z = 0; z < 28; ++z)
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const auto v = img.at(x, y, z);
        ASSERT_TRUE(v == 0 || v == 255);
        if (!v) continue;
        zmin = std::min(zmin, z), zmax = std::max(zmax, z), xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      }
  EXPECT_EQ(zmin, 1);   // the length spans voxels 1..26: one empty voxel each side
  EXPECT_EQ(zmax, 26);
  EXPECT_NEAR((xmax - xmin + 1), 26.0 * 4 / 20, 1.0);  // diameter 4 of length 20, same pitch
  EXPECT_EQ(xmin + xmax, 27);  // centred
}

TEST(Voxelize, SizesAreVoxelisedIndependently) {
  const auto closed = repair_to_watertight(sphere(4, 32, 64).poly());
  const auto both = voxelize_solid(closed.surface, std::vector<int>{28, 64});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].width, 28);
  EXPECT_EQ(both[1].width, 64);
  EXPECT_EQ(filled(both[1]), filled(voxelize_solid(closed.surface, 64)));
}

TEST(MeshFile, ReadsPlainAndDoubleSlashFacesAlike) {
  const TempDir dir;
  const Mesh tube = cylinder(3, 20, true, 24, 6);
  const auto plain = read_obj_mesh(dir.write("plain.obj", "# comment\no tube\n" + obj_text(tube, false)));
  const auto slashes = read_obj_mesh(dir.write("slashes.obj", obj_text(tube, true)));
  EXPECT_EQ(mesh_counts(plain).points, tube.points.size());
  EXPECT_EQ(mesh_counts(plain).faces, tube.faces.size());
  EXPECT_EQ(mesh_counts(slashes).faces, tube.faces.size());
  EXPECT_NEAR(repair_to_watertight(plain).report.volume, repair_to_watertight(slashes).report.volume, 1e-9);
}

TEST(MeshFile, BadFilesAreNamedInputErrors) {
  const TempDir dir;
  auto reason = [](const fs::path& file) {
    try {
      read_obj_mesh(file);
    } catch (const InputError& e) {
      EXPECT_EQ(e.path(), file);
      return e.reason();
    }
    return std::string("no error");
  };
  EXPECT_EQ(reason(dir.write("empty.obj", "")), "empty file");
  EXPECT_NE(reason(dir.write("none.obj", "hello\n")).find("no vertices"), std::string::npos);
  EXPECT_NE(reason(dir.write("points.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\n")).find("no faces"), std::string::npos);
  EXPECT_NE(reason(dir.write("range.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 7\n")).find("refers to vertex 7"),
            std::string::npos);
  EXPECT_EQ(reason(dir.write("dir.obj", "x").parent_path() / "absent.obj"), "file is missing");
  // Found by tests/fuzz/fuzz_obj: VTK 9.1's vtkOBJReader read out of bounds on the first two.
  const auto tcoords = read_obj_mesh(dir.write("tcoords.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1 2/2 3/3\n"));
  EXPECT_EQ(mesh_counts(tcoords).faces, 1u);
  const auto normals = read_obj_mesh(dir.write("normals.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1//1 4//4 3//8\n"));
  EXPECT_EQ(mesh_counts(normals).faces, 1u);
  EXPECT_EQ(reason(dir.write("corner.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 x/3\n")), "line 4: malformed face corner 'x/3'");
  EXPECT_EQ(reason(dir.write("short.obj", "v 0 0 0\nv 1 0 0\nf 1 2\n")), "line 3: a face needs at least 3 corners, got 2");
  EXPECT_EQ(reason(dir.write("coord.obj", "v 0 0\n")), "line 1: a vertex needs x y z");
  EXPECT_EQ(reason(dir.write("nan.obj", "v 0 nan 0\n")), "line 1: vertex 1 has a non-finite coordinate");
  // Negative corners count back from the last vertex (OBJ relative indices).
  const auto relative = read_obj_mesh(dir.write("relative.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf -3 -2 -1\n"));
  EXPECT_EQ(mesh_counts(relative).faces, 1u);
}
