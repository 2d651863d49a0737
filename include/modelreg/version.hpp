#pragma once

// The version of the modelreg library these headers belong to.
#define MODELREG_VERSION_MAJOR 0
#define MODELREG_VERSION_MINOR 1
#define MODELREG_VERSION_PATCH 0

namespace modelreg {

// "0.1.0" — the version of the library that was linked (may differ from the headers').
const char* version_string() noexcept;

}  // namespace modelreg
