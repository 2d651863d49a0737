#pragma once

// What each search field accepts (search.hpp, SearchField): shared by the filter parser, which
// reports a violation at its token, and validate_query, which checks built queries.

#include <cstddef>

#include "modelreg/search.hpp"

namespace modelreg::detail {

// Longest metric name a condition or an order may name, in bytes (as a tag key).
inline constexpr std::size_t kMaxMetricNameLength = 250;

inline bool operator_allowed(SearchField field, CompareOp op) {
  const bool equality = op == CompareOp::Equal || op == CompareOp::NotEqual;
  const bool like = op == CompareOp::Like || op == CompareOp::ILike;
  const bool ordering = op == CompareOp::Less || op == CompareOp::LessEqual ||
                        op == CompareOp::Greater || op == CompareOp::GreaterEqual;
  switch (field) {
    case SearchField::ModelName:
    case SearchField::Version:
    case SearchField::Tag:
      return equality || like;
    case SearchField::Stage:
    case SearchField::Framework:
      return equality;
    case SearchField::Alias:
      return op == CompareOp::Equal;
    case SearchField::Metric:
    case SearchField::CreatedAt:
    case SearchField::UpdatedAt:
      return equality || ordering;
  }
  return false;
}

// The operators of operator_allowed, for messages.
inline const char* allowed_operators(SearchField field) {
  switch (field) {
    case SearchField::ModelName:
    case SearchField::Version:
    case SearchField::Tag:
      return "=, !=, LIKE, ILIKE";
    case SearchField::Stage:
    case SearchField::Framework:
      return "=, !=";
    case SearchField::Alias:
      return "=";
    case SearchField::Metric:
    case SearchField::CreatedAt:
    case SearchField::UpdatedAt:
      return "=, !=, <, <=, >, >=";
  }
  return "none";
}

}  // namespace modelreg::detail
