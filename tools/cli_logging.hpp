#pragma once

// Where the library's log goes in the tool: stderr, as "modelreg: <level>: <message>" lines.
// By default only warnings (recovery findings, a missing artifact on delete): info-level logs
// of caller errors would repeat the error line the tool prints itself. With --verbose, every
// level. Set through modelreg::set_logger, never through spdlog's globals.

namespace modelreg::cli {

// Installs the tool's logger; call once, after parsing the command line.
void configure_logging(bool verbose);

// Whether errors the library logs are printed too. Off by default: the library logs an error
// just before throwing it, and the tool reports the exception once. watch turns it on: errors
// of its background thread are not thrown to the tool.
void print_library_errors(bool enabled);

}  // namespace modelreg::cli
