// Fuzzes ModelUri::parse: it throws nothing but InvalidArgumentError, a parsed URI names a valid
// model (and version or alias), and its canonical text parses to the same URI.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_harness.hpp"
#include "modelreg/model_uri.hpp"
#include "modelreg/validation.hpp"

namespace {

using modelreg::ModelUri;
using modelreg::fuzz::accepts;
using modelreg::fuzz::fail;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ModelUri uri;
  if (!accepts([&] { uri = ModelUri::parse(text); })) return 0;

  if (!accepts([&] { modelreg::validate_model_name(uri.model_name); })) {
    fail("a parsed URI has an invalid model name");
  }
  if (uri.kind == ModelUri::Kind::Version &&
      !accepts([&] { modelreg::validate_version(uri.version); })) {
    fail("a parsed URI has an invalid version");
  }
  if (uri.kind == ModelUri::Kind::Alias && !accepts([&] { modelreg::validate_alias(uri.alias); })) {
    fail("a parsed URI has an invalid alias");
  }
  const std::string canonical = uri.to_string();
  ModelUri back;
  if (!accepts([&] { back = ModelUri::parse(canonical); })) {
    fail("the canonical text of a parsed URI does not parse");
  }
  if (back != uri) fail("the canonical text of a parsed URI parses to another URI");
  if (back.to_string() != canonical) fail("to_string is not stable");
  return 0;
}
