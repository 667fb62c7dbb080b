// The one list of converters. Adding a dataset: write converters/<flag>.cpp
// with a make_<flag>_converter() factory, add it here, add manifests/<flag>.toml.
#include "common/pipeline/converter.h"

namespace mmb {

std::unique_ptr<Converter> make_chestmnist_converter();
std::unique_ptr<Converter> make_pathmnist_converter();
std::unique_ptr<Converter> make_bloodmnist_converter();
std::unique_ptr<Converter> make_octmnist_converter();
std::unique_ptr<Converter> make_pneumoniamnist_converter();
std::unique_ptr<Converter> make_dermamnist_converter();
std::unique_ptr<Converter> make_breastmnist_converter();
std::unique_ptr<Converter> make_retinamnist_converter();
std::unique_ptr<Converter> make_tissuemnist_converter();

std::unique_ptr<Converter> make_organmnist_converter();  // organ{a,c,s}mnist + organmnist3d
std::unique_ptr<Converter> make_vesselmnist3d_converter();
std::unique_ptr<Converter> make_synapsemnist3d_converter();
std::unique_ptr<Converter> make_fracturemnist3d_converter();
std::unique_ptr<Converter> make_adrenalmnist3d_converter();

std::unique_ptr<Converter> make_nodulemnist3d_converter();
const std::vector<std::unique_ptr<Converter>>& all_converters() {
  static const auto converters = [] {
    std::vector<std::unique_ptr<Converter>> list;
    list.push_back(make_chestmnist_converter());
    list.push_back(make_pathmnist_converter());
    list.push_back(make_bloodmnist_converter());
    list.push_back(make_dermamnist_converter());
    list.push_back(make_breastmnist_converter());
    list.push_back(make_octmnist_converter());
    list.push_back(make_pneumoniamnist_converter());
    list.push_back(make_retinamnist_converter());
    list.push_back(make_tissuemnist_converter());
    list.push_back(make_organmnist_converter());
    list.push_back(make_vesselmnist3d_converter());
    list.push_back(make_synapsemnist3d_converter());
    list.push_back(make_fracturemnist3d_converter());
    list.push_back(make_adrenalmnist3d_converter());
    list.push_back(make_nodulemnist3d_converter());
    return list;
  }();
  return converters;
}

const Converter* find_converter(const std::string& flag) {
  for (const auto& c : all_converters())
    for (const auto& f : c->flags())
      if (f == flag) return c.get();
  return nullptr;
}

}  // namespace mmb
