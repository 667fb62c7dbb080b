#pragma once
// Surface meshes from Wavefront OBJ files: the "v" and "f" records, as VTK polydata.
//
// Read here, not with VTK's vtkOBJReader: that reader is lenient (nothing reported for a file
// that is not an OBJ at all; "f 1 2 7" with 3 vertices gives a cell pointing at a missing
// point, which crashes later filters) and, in VTK 9.1, reads out of bounds on faces naming
// texture coordinates or normals the file lacks (found by tests/fuzz/fuzz_obj). Every problem
// is an InputError naming the file (and the line where there is one). Accepted face forms:
// "f a b c", "f a/t b/t c/t", "f a//n b//n c//n", "f a/t/n ..." (IntrA writes plain and a//a
// faces: intra3d2019/IntrA tools/show_result.py load_obj_file, tools/random_pick.py).
#include <cstddef>
#include <filesystem>

#include <vtkPolyData.h>
#include <vtkSmartPointer.h>

namespace mmb {

// Throws InputError(file, reason) when the file is missing, empty or
// unreadable, has a malformed "v" or "f" line, no vertices, a non-finite coordinate,
// no faces, or a face referring to a vertex it does not define.
vtkSmartPointer<vtkPolyData> read_obj_mesh(const std::filesystem::path& file);

struct MeshCounts {
  std::size_t points = 0, faces = 0;
};
MeshCounts mesh_counts(vtkPolyData* mesh);

}  // namespace mmb
