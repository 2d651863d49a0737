#pragma once

// Events and versions as one readable line, for test messages and for GoogleTest's printing
// (PrintTo, found by ADL) instead of their bytes.

#include <fmt/format.h>

#include <optional>
#include <ostream>
#include <string>

#include "modelreg/model_event.hpp"
#include "modelreg/model_version.hpp"

namespace modelreg {

namespace testing {

inline std::string show(const std::optional<std::string>& value) {
  return value ? "'" + *value + "'" : std::string("(none)");
}

// "#12 alias_set m:2 key='champion' '1' -> '2' by 'eval-job' (reason)".
inline std::string describe(const ModelEvent& e) {
  return fmt::format("#{} {} {}{}{} key='{}' {} -> {} by '{}' ({})", e.sequence, to_string(e.type),
                     e.model_name, e.version.empty() ? "" : ":", e.version, e.key,
                     show(e.old_value), show(e.new_value), e.actor, e.reason);
}

}  // namespace testing

inline void PrintTo(const ModelEvent& event, std::ostream* os) {
  *os << testing::describe(event);
}
inline void PrintTo(EventType type, std::ostream* os) {
  *os << to_string(type);
}
inline void PrintTo(const ModelVersion& version, std::ostream* os) {
  *os << version.to_dict().dump();
}

}  // namespace modelreg
