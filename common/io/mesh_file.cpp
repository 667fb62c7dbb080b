#include "common/io/mesh_file.h"

#include <vtkCellArray.h>
#include <vtkCellArrayIterator.h>
#include <vtkNew.h>
#include <vtkPoints.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

void check_readable_file(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw InputError(file, "file is missing");
  if (!fs::is_regular_file(file, ec)) throw InputError(file, "not a regular file");
  if (fs::file_size(file, ec) == 0) throw InputError(file, "empty file");
}

[[noreturn]] void fail(const fs::path& file, std::size_t line, const std::string& reason) {
  throw InputError(file, "line " + std::to_string(line) + ": " + reason);
}

// "v x y z [w]": the coordinates, stored as float as vtkOBJReader stores them.
void read_vertex(const fs::path& file, std::size_t line, std::istringstream& in, vtkPoints* points) {
  double xyz[3];
  for (double& c : xyz) {
    std::string token;
    if (!(in >> token)) fail(file, line, "a vertex needs x y z");
    char* end = nullptr;
    c = std::strtod(token.c_str(), &end);
    if (end != token.c_str() + token.size()) fail(file, line, "'" + token + "' is not a coordinate");
    if (!std::isfinite(c) || std::abs(c) > 3.0e38)
      fail(file, line, "vertex " + std::to_string(points->GetNumberOfPoints() + 1) + " has a non-finite coordinate");
  }
  points->InsertNextPoint(static_cast<float>(xyz[0]), static_cast<float>(xyz[1]), static_cast<float>(xyz[2]));
}

// "f a b c ...", each corner "a", "a/t", "a//n" or "a/t/n": only a is kept (geometry only).
// Negative a counts back from the last vertex read, as the OBJ format allows.
void read_face(const fs::path& file, std::size_t line, std::istringstream& in, vtkIdType n_points,
               vtkCellArray* polys) {
  std::vector<vtkIdType> ids;
  for (std::string corner; in >> corner;) {
    const std::string a = corner.substr(0, corner.find('/'));
    long long index = 0;
    const auto [end, ec] = std::from_chars(a.data(), a.data() + a.size(), index);
    if (a.empty() || ec != std::errc() || end != a.data() + a.size() || index == 0)
      fail(file, line, "malformed face corner '" + corner + "'");
    ids.push_back(index > 0 ? static_cast<vtkIdType>(index - 1) : static_cast<vtkIdType>(n_points + index));
  }
  if (ids.size() < 3) fail(file, line, "a face needs at least 3 corners, got " + std::to_string(ids.size()));
  polys->InsertNextCell(static_cast<vtkIdType>(ids.size()), ids.data());
}

void check_faces(const fs::path& file, vtkPolyData* mesh) {
  if (mesh->GetNumberOfPolys() == 0) throw InputError(file, "no faces ('f' lines) in the OBJ file");
  const vtkIdType n_points = mesh->GetNumberOfPoints();
  auto it = vtk::TakeSmartPointer(mesh->GetPolys()->NewIterator());
  for (it->GoToFirstCell(); !it->IsDoneWithTraversal(); it->GoToNextCell()) {
    vtkIdType n = 0;
    const vtkIdType* ids = nullptr;
    it->GetCurrentCell(n, ids);
    for (vtkIdType k = 0; k < n; ++k)
      if (ids[k] < 0 || ids[k] >= n_points)
        throw InputError(file, "face " + std::to_string(it->GetCurrentCellId() + 1) + " refers to vertex " +
                                   std::to_string(ids[k] + 1) + ", but the file defines " +
                                   std::to_string(n_points) + " vertices");
  }
}

}  // namespace

// The geometry records are read here rather than by vtkOBJReader: VTK 9.1's reader uses the
// t and n of "f a/t/n" as array indices unchecked, and reads out of bounds (or through a null
// array) on faces naming texture coordinates or normals the file lacks, e.g. "f 1/1 2/2 3/3"
// without "vt" lines (found by tests/fuzz/fuzz_obj). Only points and polygons are used
// downstream, so "vt", "vn", groups, materials and the rest are skipped.
vtkSmartPointer<vtkPolyData> read_obj_mesh(const fs::path& file) {
  check_readable_file(file);
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file, "cannot open");
  vtkNew<vtkPoints> points;
  points->SetDataTypeToFloat();
  vtkNew<vtkCellArray> polys;
  std::string text;
  for (std::size_t line = 1; std::getline(in, text); ++line) {
    std::istringstream fields(text);
    std::string tag;
    if (!(fields >> tag)) continue;
    if (tag == "v") read_vertex(file, line, fields, points);
    else if (tag == "f") read_face(file, line, fields, points->GetNumberOfPoints(), polys);
  }
  if (in.bad()) throw InputError(file, "read error");
  auto mesh = vtkSmartPointer<vtkPolyData>::New();
  mesh->SetPoints(points);
  mesh->SetPolys(polys);
  if (mesh->GetNumberOfPoints() == 0) throw InputError(file, "no vertices ('v' lines) in the OBJ file");
  check_faces(file, mesh);
  return mesh;
}

MeshCounts mesh_counts(vtkPolyData* mesh) {
  return {static_cast<std::size_t>(mesh->GetNumberOfPoints()), static_cast<std::size_t>(mesh->GetNumberOfPolys())};
}

}  // namespace mmb
