#include "commands.hpp"

namespace modelreg::cli {

void on_run(CLI::App* command, Cli& cli, std::function<int()> action) {
  command->callback([&cli, action = std::move(action)] { cli.set_action(action); });
}

std::string example(std::initializer_list<const char*> lines) {
  std::string text = "Example:";
  for (const char* line : lines) text += std::string("\n  ") + line;
  return text;
}

}  // namespace modelreg::cli
