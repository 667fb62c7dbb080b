// OBJ reader's input checks (common/io/mesh_file.*): VTK's vtkOBJReader accepts nearly any
// text, so read_obj_mesh must turn every broken mesh into an InputError naming the file.
#include "common/core/error.h"
#include "common/io/mesh_file.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    auto mesh = mmb::read_obj_mesh(mmb::fuzz::input_file(data, size, "ArteryObjAN1-1.obj"));
    mmb::mesh_counts(mesh);
  } catch (const mmb::InputError&) {
  }
  return 0;
}
