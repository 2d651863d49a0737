#pragma once

// The check that racing compare-and-swaps of one alias lost no update: the alias's AliasSet
// events in the history form one chain (each starts where the previous one ended) that ends
// where the alias is now.

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "event_printing.hpp"
#include "modelreg/model_registry.hpp"

namespace modelreg::testing {

// Each actor's moves of the alias, as (from, to) pairs in history order ("" for no version).
using MovesByActor = std::map<std::string, std::vector<std::pair<std::string, std::string>>>;

// Checks that the history of `model` holds exactly `expected_moves` moves of `alias`, chained
// from its creation to its current target, and returns them by actor.
inline MovesByActor expect_alias_moves_chained(const ModelRegistry& registry,
                                               const std::string& model, const std::string& alias,
                                               std::size_t expected_moves) {
  std::vector<ModelEvent> moves;
  for (auto& e : registry.history(model)) {
    if (e.type == EventType::AliasSet && e.key == alias) moves.push_back(std::move(e));
  }
  MovesByActor recorded;
  EXPECT_EQ(moves.size(), expected_moves)
      << "a move that won is missing from the history, or one that lost is in it";
  if (moves.empty()) return recorded;
  EXPECT_EQ(moves.front().old_value, std::nullopt) << describe(moves.front());
  for (std::size_t i = 1; i < moves.size(); ++i) {
    EXPECT_GT(moves[i].sequence, moves[i - 1].sequence);
    EXPECT_EQ(moves[i].old_value, moves[i - 1].new_value)
        << "a lost update: " << describe(moves[i]) << " follows " << describe(moves[i - 1]);
  }
  const auto current = registry.get_version_by_alias(model, alias);
  EXPECT_EQ(moves.back().new_value,
            current ? std::optional<std::string>(current->version) : std::optional<std::string>());
  for (const auto& e : moves) {
    recorded[e.actor].emplace_back(e.old_value.value_or(""), e.new_value.value_or(""));
  }
  return recorded;
}

}  // namespace modelreg::testing
