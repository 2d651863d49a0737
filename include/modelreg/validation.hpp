#pragma once

#include <cstddef>
#include <string_view>

namespace modelreg {

// Longest accepted model name and version string, in bytes.
inline constexpr std::size_t kMaxModelNameLength = 200;
inline constexpr std::size_t kMaxVersionLength = 100;

// Checks a model name: 1..kMaxModelNameLength characters from [A-Za-z0-9._-], starting with a
// letter or digit (so never "." or ".." and never a hidden or option-like name). Names become
// directory names, so nothing else is allowed: no separators, spaces, control characters or NUL.
// Throws InvalidArgumentError naming the problem.
void validate_model_name(std::string_view name);

// Checks a version string: 1..kMaxVersionLength characters from [A-Za-z0-9._+-], starting with
// a letter or digit. Throws InvalidArgumentError naming the problem.
void validate_version(std::string_view version);

// Checks a tag key (1..250 characters, no control characters) and value (at most 5000
// characters, no NUL). Throws InvalidArgumentError.
void validate_tag(std::string_view key, std::string_view value);

// Longest accepted alias, in bytes.
inline constexpr std::size_t kMaxAliasLength = 255;

// Checks an alias (MLflow's rules): 1..kMaxAliasLength characters from [A-Za-z0-9_-]; "latest"
// (any case) and "v" followed only by digits (any case: "v1", "V12") are reserved, because model
// URIs and version references use them. Throws InvalidArgumentError naming the problem.
void validate_alias(std::string_view alias);

// Checks a description of a model or version: valid UTF-8 without NUL, at most 65,536 bytes.
// Throws InvalidArgumentError.
void validate_description(std::string_view description);

}  // namespace modelreg
