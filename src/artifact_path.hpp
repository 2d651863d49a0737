#pragma once

#include <string_view>

namespace modelreg::detail {

// True if `path` is an artifact path of a store: "name/version/model.bin" with a valid model
// name and version. Listings use it to skip entries that are none of the store's.
bool is_artifact_path(std::string_view path);

}  // namespace modelreg::detail
