#include "common/io/mesh_file.h"

#include <vtkCallbackCommand.h>
#include <vtkCellArray.h>
#include <vtkCellArrayIterator.h>
#include <vtkCommand.h>
#include <vtkNew.h>
#include <vtkOBJReader.h>
#include <vtkPoints.h>

#include <cmath>
#include <string>

#include "common/core/error.h"

namespace fs = std::filesystem;

namespace mmb {
namespace {

// Collects the messages of VTK's ErrorEvent, so they end up in the
// InputError instead of on stderr.
class ErrorCollector {
 public:
  explicit ErrorCollector(vtkObject* observed) {
    callback_->SetClientData(&message_);
    callback_->SetCallback([](vtkObject*, unsigned long, void* client, void* call) {
      auto* message = static_cast<std::string*>(client);
      if (message->empty() && call) *message = static_cast<const char*>(call);
    });
    observed->AddObserver(vtkCommand::ErrorEvent, callback_);
  }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
  vtkNew<vtkCallbackCommand> callback_;
};

void check_readable_file(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw InputError(file, "file is missing");
  if (!fs::is_regular_file(file, ec)) throw InputError(file, "not a regular file");
  if (fs::file_size(file, ec) == 0) throw InputError(file, "empty file");
}

// The first line of VTK's multi-line error text, without its "ERROR: In ..." prefix.
std::string vtk_reason(const std::string& message) {
  std::string text = message;
  const auto in = text.find("): ");
  if (in != std::string::npos) text = text.substr(in + 3);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void check_points(const fs::path& file, vtkPolyData* mesh) {
  if (mesh->GetNumberOfPoints() == 0) throw InputError(file, "no vertices ('v' lines) in the OBJ file");
  double p[3];
  for (vtkIdType i = 0; i < mesh->GetNumberOfPoints(); ++i) {
    mesh->GetPoint(i, p);
    if (!std::isfinite(p[0]) || !std::isfinite(p[1]) || !std::isfinite(p[2]))
      throw InputError(file, "vertex " + std::to_string(i + 1) + " has a non-finite coordinate");
  }
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

vtkSmartPointer<vtkPolyData> read_obj_mesh(const fs::path& file) {
  check_readable_file(file);
  vtkNew<vtkOBJReader> reader;
  const ErrorCollector errors(reader);
  const std::string name = file.string();
  reader->SetFileName(name.c_str());
  reader->Update();
  if (!errors.message().empty()) throw InputError(file, "cannot read OBJ: " + vtk_reason(errors.message()));
  // Geometry only: "f a//n" faces without "vn" lines leave normal and texture
  // arrays that do not match the points, and later filters would copy them.
  auto mesh = vtkSmartPointer<vtkPolyData>::New();
  mesh->SetPoints(reader->GetOutput()->GetPoints() ? reader->GetOutput()->GetPoints() : vtkNew<vtkPoints>().GetPointer());
  mesh->SetPolys(reader->GetOutput()->GetPolys());
  check_points(file, mesh);
  check_faces(file, mesh);
  return mesh;
}

MeshCounts mesh_counts(vtkPolyData* mesh) {
  return {static_cast<std::size_t>(mesh->GetNumberOfPoints()), static_cast<std::size_t>(mesh->GetNumberOfPolys())};
}

}  // namespace mmb
