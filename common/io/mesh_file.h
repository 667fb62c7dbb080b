#pragma once
// Surface meshes from Wavefront OBJ files, read with VTK's vtkOBJReader.
//
// vtkOBJReader is lenient: it reports nothing for a file that is not an OBJ at
// all (0 points), and accepts faces that name vertices the file does not have
// (measured with VTK 9.1: "f 1 2 7" with 3 vertices gives a cell pointing at a
// missing point, which crashes later filters). read_obj_mesh therefore checks
// the result itself and turns every such case into an InputError naming the
// file. Accepted face forms: "f a b c", "f a/t b/t c/t", "f a//n b//n c//n"
// (IntrA writes plain and a//a faces: intra3d2019/IntrA tools/show_result.py
// load_obj_file, tools/random_pick.py).
#include <cstddef>
#include <filesystem>

#include <vtkPolyData.h>
#include <vtkSmartPointer.h>

namespace mmb {

// Throws InputError(file, reason) when the file is missing, empty or
// unreadable, has no vertices, a non-finite coordinate, no faces, or a face
// referring to a vertex it does not define.
vtkSmartPointer<vtkPolyData> read_obj_mesh(const std::filesystem::path& file);

struct MeshCounts {
  std::size_t points = 0, faces = 0;
};
MeshCounts mesh_counts(vtkPolyData* mesh);

}  // namespace mmb
