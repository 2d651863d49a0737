#pragma once

// The subcommands of the tool, by group. Each add_* function adds its subcommands to `app`
// (options, --help text with an example) and, through on_run, the action that runs when the
// command line selects one of them.

#include <CLI/CLI.hpp>
#include <functional>
#include <initializer_list>
#include <string>

#include "cli_context.hpp"

namespace modelreg::cli {

void add_model_commands(CLI::App& app, Cli& cli);        // list, show
void add_change_commands(CLI::App& app, Cli& cli);       // register, promote, describe, delete
void add_label_commands(CLI::App& app, Cli& cli);        // alias set|delete|show, tag set|delete
void add_query_commands(CLI::App& app, Cli& cli);        // search, history, get
void add_watch_command(CLI::App& app, Cli& cli);         // watch
void add_maintenance_commands(CLI::App& app, Cli& cli);  // export, import, verify, gc
void add_completion_command(CLI::App& app, Cli& cli);    // completion bash

// Makes `action` (returning the exit code) what runs once the command line has been parsed,
// when `command` is the subcommand it selected.
void on_run(CLI::App* command, Cli& cli, std::function<int()> action);

// The --help footer of a subcommand: "Example:" and the given command lines.
std::string example(std::initializer_list<const char*> lines);

}  // namespace modelreg::cli
