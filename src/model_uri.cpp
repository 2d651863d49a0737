#include "modelreg/model_uri.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>

#include "ascii_case.hpp"
#include "modelreg/error.hpp"
#include "modelreg/validation.hpp"
#include "public_call.hpp"
#include "quoted_text.hpp"

namespace modelreg {
namespace {

using detail::equals_ignoring_case;

constexpr std::string_view kScheme = "models:";

// The stage a path segment names, if it is a stage name (any case).
std::optional<ModelStage> stage_named(std::string_view segment) {
  for (const auto stage : {ModelStage::Development, ModelStage::Staging, ModelStage::Production,
                           ModelStage::Archived}) {
    if (equals_ignoring_case(segment, to_string(stage))) return stage;
  }
  return std::nullopt;
}

ModelUri parse_uri(std::string_view uri) {
  const auto fail = [&](const std::string& why) {
    throw InvalidArgumentError(
        fmt::format("invalid model URI {}: {}", detail::quoted_text(uri), why));
  };
  // Validators name the part; the URI gives the context.
  const auto check = [&](void (*validate)(std::string_view), std::string_view part) {
    try {
      validate(part);
    } catch (const InvalidArgumentError& e) {
      fail(e.what());
    }
  };
  // The scheme is case-insensitive (RFC 3986), as MLflow's parser treats it.
  if (!equals_ignoring_case(uri.substr(0, kScheme.size()), kScheme)) {
    fail("expected models:/<name>/<version|stage|latest> or models:/<name>@<alias>");
  }
  std::string_view path = uri.substr(kScheme.size());
  if (path.substr(0, 2) == "//") fail("a model URI has no host (models:/name/..., not models://)");
  if (path.empty() || path.front() != '/') fail("expected '/' after 'models:'");
  path.remove_prefix(1);
  if (path.empty()) fail("missing model name");
  if (path.find_first_of("?#") != std::string_view::npos) {
    fail("a model URI has no query or fragment");
  }
  ModelUri result;
  if (const auto at = path.find('@'); at != std::string_view::npos) {
    result.model_name = std::string(path.substr(0, at));
    result.kind = ModelUri::Kind::Alias;
    result.alias = std::string(path.substr(at + 1));
    check(validate_model_name, result.model_name);
    check(validate_alias, result.alias);
    return result;
  }
  const auto slash = path.find('/');
  if (slash == std::string_view::npos) {
    fail("missing '/<version>', '/<stage>', '/latest' or '@<alias>' after the model name");
  }
  const std::string_view name = path.substr(0, slash);
  const std::string_view target = path.substr(slash + 1);
  if (target.find('/') != std::string_view::npos) fail("too many path segments");
  if (target.empty()) fail("empty version after the model name");
  check(validate_model_name, name);
  result.model_name = std::string(name);
  if (equals_ignoring_case(target, "latest")) {
    result.kind = ModelUri::Kind::Latest;
  } else if (const auto stage = stage_named(target)) {
    result.kind = ModelUri::Kind::Stage;
    result.stage = *stage;
  } else {
    check(validate_version, target);
    result.kind = ModelUri::Kind::Version;
    result.version = std::string(target);
  }
  return result;
}

}  // namespace

ModelUri ModelUri::parse(std::string_view uri) {
  return detail::public_call("ModelUri::parse", [&] { return parse_uri(uri); });
}

std::string ModelUri::to_string() const {
  const std::string prefix = "models:/" + model_name;
  switch (kind) {
    case Kind::Version:
      return prefix + "/" + version;
    case Kind::Alias:
      return prefix + "@" + alias;
    case Kind::Stage:
      return prefix + "/" + std::string(modelreg::to_string(stage));
    case Kind::Latest:
      break;
  }
  return prefix + "/latest";
}

// Only the member the kind uses counts, so that parse(to_string()) == *this for any value.
bool operator==(const ModelUri& a, const ModelUri& b) {
  if (a.model_name != b.model_name || a.kind != b.kind) return false;
  switch (a.kind) {
    case ModelUri::Kind::Version:
      return a.version == b.version;
    case ModelUri::Kind::Alias:
      return a.alias == b.alias;
    case ModelUri::Kind::Stage:
      return a.stage == b.stage;
    case ModelUri::Kind::Latest:
      break;
  }
  return true;
}

}  // namespace modelreg
