// Fuzzes the JSON decoding of every value type: a document that parses as JSON is decoded as
// each type; decoding throws nothing but InvalidArgumentError, and a decoded value encodes to
// JSON that decodes to an equal value (or, for values holding a NaN metric, one that encodes the
// same).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fuzz_harness.hpp"
#include "modelreg/model_event.hpp"
#include "modelreg/model_framework.hpp"
#include "modelreg/model_metrics.hpp"
#include "modelreg/model_stage.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"

namespace {

using modelreg::fuzz::accepts;
using modelreg::fuzz::fail;

template <class T>
bool encodes_as(const T& value, const nlohmann::json& expected) {
  nlohmann::json encoded;
  to_json(encoded, value);
  return encoded == expected;
}

// Decodes `document` as a T; if that succeeds, checks from_json(to_json(value)) == value.
template <class T>
void check_decoding(const nlohmann::json& document, const char* type) {
  T value{};
  if (!accepts([&] { from_json(document, value); })) return;
  nlohmann::json encoded;
  to_json(encoded, value);
  T back{};
  if (!accepts([&] { from_json(encoded, back); })) {
    std::fprintf(stderr, "type %s, encoded as %s\n", type,
                 encoded.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    fail("to_json wrote a document from_json refuses");
  }
  // A NaN metric never equals itself, so two values whose encodings are equal count as equal.
  if (!(back == value) && !encodes_as(back, encoded)) {
    std::fprintf(stderr, "type %s, encoded as %s\n", type,
                 encoded.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    fail("from_json(to_json(value)) != value");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto document =
      nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return 0;
  check_decoding<modelreg::ModelVersion>(document, "ModelVersion");
  check_decoding<modelreg::RegisteredModel>(document, "RegisteredModel");
  check_decoding<modelreg::ModelEvent>(document, "ModelEvent");
  check_decoding<modelreg::ModelMetrics>(document, "ModelMetrics");
  check_decoding<modelreg::ModelStage>(document, "ModelStage");
  check_decoding<modelreg::ModelFramework>(document, "ModelFramework");
  return 0;
}
