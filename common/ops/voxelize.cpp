#include "common/ops/voxelize.h"

#include <vtkCellArray.h>
#include <vtkCleanPolyData.h>
#include <vtkFeatureEdges.h>
#include <vtkFillHolesFilter.h>
#include <vtkImageData.h>
#include <vtkImageStencilToImage.h>
#include <vtkMassProperties.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPolyDataConnectivityFilter.h>
#include <vtkPolyDataNormals.h>
#include <vtkPolyDataToImageStencil.h>
#include <vtkTriangleFilter.h>
#include <vtkUnsignedCharArray.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace mmb {
namespace {

double bounds_diagonal(vtkPolyData* mesh) {
  return mesh->GetNumberOfPoints() > 0 ? mesh->GetLength() : 0.0;
}

// Polygons only: vertices and lines (which cleaning makes of degenerate
// faces) would otherwise count as geometry for the later filters.
vtkSmartPointer<vtkPolyData> faces_only(vtkPolyData* mesh) {
  auto out = vtkSmartPointer<vtkPolyData>::New();
  out->SetPoints(mesh->GetPoints());
  out->SetPolys(mesh->GetPolys());
  return out;
}

vtkSmartPointer<vtkPolyData> triangulate(vtkPolyData* mesh) {
  vtkNew<vtkTriangleFilter> triangles;
  triangles->SetInputData(mesh);
  triangles->PassVertsOff();
  triangles->PassLinesOff();
  triangles->Update();
  return triangles->GetOutput();
}

// Merges points closer than tolerance * diagonal and drops unused points and
// faces that collapse.
vtkSmartPointer<vtkPolyData> weld(vtkPolyData* mesh, double tolerance) {
  vtkNew<vtkCleanPolyData> clean;
  clean->SetInputData(mesh);
  clean->PointMergingOn();
  clean->SetTolerance(tolerance);
  clean->Update();
  return faces_only(clean->GetOutput());
}

vtkSmartPointer<vtkPolyData> largest_component(vtkPolyData* mesh) {
  vtkNew<vtkPolyDataConnectivityFilter> connectivity;
  connectivity->SetInputData(mesh);
  connectivity->SetExtractionModeToLargestRegion();
  connectivity->Update();
  return weld(connectivity->GetOutput(), 0.0);  // drops the points of the other components
}

vtkSmartPointer<vtkPolyData> fill_holes(vtkPolyData* mesh, double max_hole_radius) {
  vtkNew<vtkFillHolesFilter> fill;
  fill->SetInputData(mesh);
  // HoleSize is a circumsphere radius: 0 in the params means "any hole", and
  // no hole of a mesh is larger than ten times its bounding-box diagonal.
  fill->SetHoleSize(max_hole_radius > 0 ? max_hole_radius : 10.0 * bounds_diagonal(mesh) + 1.0);
  fill->Update();
  return weld(triangulate(fill->GetOutput()), 0.0);
}

// Consistent, outward orientation, so the volume below has the right sign
// (vtkFillHolesFilter's patches need not follow the surface's winding).
vtkSmartPointer<vtkPolyData> orient_consistently(vtkPolyData* mesh) {
  vtkNew<vtkPolyDataNormals> normals;
  normals->SetInputData(mesh);
  normals->ConsistencyOn();
  normals->AutoOrientNormalsOn();
  normals->SplittingOff();
  normals->ComputePointNormalsOff();
  normals->ComputeCellNormalsOn();  // with both off, VTK 9.1 skips the reorientation (measured)
  normals->Update();
  return faces_only(normals->GetOutput());
}

}  // namespace

std::size_t count_boundary_edges(vtkPolyData* mesh) {
  vtkNew<vtkFeatureEdges> edges;
  edges->SetInputData(mesh);
  edges->BoundaryEdgesOn();
  edges->FeatureEdgesOff();
  edges->NonManifoldEdgesOff();
  edges->ManifoldEdgesOff();
  edges->ColoringOff();
  edges->Update();
  return static_cast<std::size_t>(edges->GetOutput()->GetNumberOfLines());
}

double enclosed_volume(vtkPolyData* closed_mesh) {
  vtkNew<vtkMassProperties> mass;
  mass->SetInputData(closed_mesh);
  mass->Update();
  return std::abs(mass->GetVolume());
}

RepairedMesh repair_to_watertight(vtkPolyData* mesh, const MeshRepairParams& params) {
  RepairedMesh out;
  MeshRepairReport& r = out.report;
  r.input_faces = static_cast<std::size_t>(mesh->GetNumberOfPolys());
  auto triangles = triangulate(faces_only(mesh));  // attributes are not needed and may not match
  auto welded = weld(triangles, params.weld_tolerance);
  r.welded_points = static_cast<std::size_t>(triangles->GetNumberOfPoints() - welded->GetNumberOfPoints());
  if (welded->GetNumberOfPolys() == 0) throw MeshRepairError("no face left after welding duplicate vertices (all faces degenerate)");
  if (params.keep_largest_component) {
    const auto before = welded->GetNumberOfPolys();
    welded = largest_component(welded);
    r.dropped_faces = static_cast<std::size_t>(before - welded->GetNumberOfPolys());
  }
  r.boundary_edges = count_boundary_edges(welded);
  auto closed = r.boundary_edges ? fill_holes(welded, params.max_hole_radius) : welded;
  if (const auto left = count_boundary_edges(closed))
    throw MeshRepairError("cannot be closed: " + std::to_string(left) + " of " + std::to_string(r.boundary_edges) +
                          " boundary edges remain after hole filling");
  out.surface = orient_consistently(closed);
  r.output_faces = static_cast<std::size_t>(out.surface->GetNumberOfPolys());
  r.volume = enclosed_volume(out.surface);
  const double diagonal = bounds_diagonal(out.surface);
  if (!(r.volume > 1e-9 * diagonal * diagonal * diagonal)) throw MeshRepairError("the closed surface encloses zero volume");
  return out;
}

GridFit fit_isotropic_grid(const std::array<double, 6>& b, int n, int margin) {
  if (n <= 2 * margin) throw std::invalid_argument("grid of " + std::to_string(n) + " voxels leaves no room inside its margin");
  const double extent = std::max({b[1] - b[0], b[3] - b[2], b[5] - b[4]});
  if (!(extent > 0)) throw MeshRepairError("the mesh has zero extent (all vertices coincide)");
  GridFit fit;
  fit.pitch = extent / (n - 2 * margin);
  for (int a = 0; a < 3; ++a) fit.origin[a] = 0.5 * (b[2 * a] + b[2 * a + 1]) - fit.pitch * (n - 1) / 2.0;
  return fit;
}

Image voxelize_solid(vtkPolyData* closed_mesh, int n, const VoxelizeParams& params) {
  std::array<double, 6> bounds{};
  closed_mesh->GetBounds(bounds.data());
  const GridFit fit = fit_isotropic_grid(bounds, n, params.margin);
  vtkNew<vtkPolyDataToImageStencil> stencil;
  stencil->SetInputData(closed_mesh);
  stencil->SetOutputOrigin(fit.origin.data());
  stencil->SetOutputSpacing(fit.pitch, fit.pitch, fit.pitch);
  stencil->SetOutputWholeExtent(0, n - 1, 0, n - 1, 0, n - 1);
  vtkNew<vtkImageStencilToImage> image;
  image->SetInputConnection(stencil->GetOutputPort());
  image->SetInsideValue(params.inside);
  image->SetOutsideValue(0);
  image->SetOutputScalarTypeToUnsignedChar();
  image->Update();
  Image out(n, n, n, 1);
  auto* scalars = vtkUnsignedCharArray::SafeDownCast(image->GetOutput()->GetPointData()->GetScalars());
  if (!scalars || static_cast<std::size_t>(scalars->GetNumberOfValues()) != out.pixels.size())
    throw std::logic_error("vtkImageStencilToImage returned an unexpected image");
  std::memcpy(out.pixels.data(), scalars->GetPointer(0), out.pixels.size());  // both x fastest, then y, then z
  if (std::none_of(out.pixels.begin(), out.pixels.end(), [](std::uint8_t v) { return v != 0; }))
    throw MeshRepairError("no voxel centre falls inside the surface at " + std::to_string(n) + "^3");
  return out;
}

std::vector<Image> voxelize_solid(vtkPolyData* closed_mesh, const std::vector<int>& sizes,
                                  const VoxelizeParams& params) {
  std::vector<Image> out;
  for (int n : sizes) out.push_back(voxelize_solid(closed_mesh, n, params));
  return out;
}

}  // namespace mmb
