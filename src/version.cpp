#include "modelreg/version.hpp"

namespace modelreg {

const char* version_string() noexcept {
  return "0.1.0";
}

}  // namespace modelreg
