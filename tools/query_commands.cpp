// search, history and get: finding versions, reading the history, fetching an artifact.

#include <iostream>
#include <memory>

#include "atomic_output_file.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "modelreg/error.hpp"
#include "modelreg/model_uri.hpp"
#include "output.hpp"
#include "progress.hpp"
#include "table.hpp"

namespace modelreg::cli {
namespace {

struct SearchArgs {
  std::string filter;
  std::string order_by;
  std::size_t max_results = 100;
  std::string page_token;
};

int run_search(Cli& cli, const SearchArgs& args) {
  const VersionPage page =
      cli.registry().search_versions(args.filter, args.order_by, args.max_results, args.page_token);
  if (cli.options.json) {
    nlohmann::json versions = nlohmann::json::array();
    for (const auto& version : page.versions) versions.push_back(version_json(version));
    print_json(std::cout, {{"versions", std::move(versions)},
                           {"next_page_token", page.next_page_token.empty()
                                                   ? nlohmann::json()
                                                   : nlohmann::json(page.next_page_token)}});
    return 0;
  }
  Table table({"MODEL", "VERSION", "STAGE", "FRAMEWORK", "ALIASES", "METRICS", "CREATED"});
  for (const auto& v : page.versions) {
    table.add_row({v.model_name, v.version, std::string(to_string(v.stage)),
                   std::string(to_string(v.framework)), join(v.aliases, ","),
                   join_pairs(v.metrics.to_dict()), table_time(v.created_at)});
  }
  table.print(std::cout);
  if (!page.next_page_token.empty()) {
    std::cout << "next page token: " << printable(page.next_page_token) << '\n';
  }
  return 0;
}

void add_search(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* cmd = app.add_subcommand("search", "Search versions with MLflow's filter grammar");
  cmd->add_option("filter", args->filter,
                  "Clauses joined by AND, e.g. \"name = 'fraud' AND metrics.auc_roc > 0.9\" "
                  "(empty: every version)");
  cmd->add_option("--order-by", args->order_by,
                  "created_at, updated_at or metrics.<name>, then ASC or DESC")
      ->type_name("ORDER");
  cmd->add_option("--max-results", args->max_results, "Page size, 1..10000 (default 100)")
      ->type_name("N");
  cmd->add_option("--page-token", args->page_token, "The next page token of the previous page")
      ->type_name("TOKEN");
  cmd->footer(example({"modelreg search \"name = 'fraud' AND tags.team = 'risk'\" \\",
                       "    --order-by \"metrics.auc_roc DESC\" --max-results 10"}));
  on_run(cmd, cli, [&cli, args] { return run_search(cli, *args); });
}

std::string change_text(const ModelEvent& e) {
  if (!e.old_value && !e.new_value) return {};
  return e.old_value.value_or("-") + " -> " + e.new_value.value_or("-");
}

void add_history(CLI::App& app, Cli& cli) {
  auto name = std::make_shared<std::string>();
  auto version = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("history", "Show the history of a model or of one version");
  cmd->add_option("name", *name, "Model name")->required();
  cmd->add_option("--version", *version, "Only the events of this version")->type_name("VERSION");
  cmd->footer(example({"modelreg history fraud", "modelreg history fraud --version 3 --json"}));
  on_run(cmd, cli, [&cli, name, version] {
    ModelRegistry& registry = cli.registry();
    const std::vector<ModelEvent> events =
        version->empty() ? registry.history(*name) : registry.history(*name, *version);
    if (events.empty() && !version->empty()) {
      throw NotFoundError("version '" + *name + ":" + *version + "' has no history");
    }
    if (events.empty() && !registry.get_model(*name)) {
      throw NotFoundError("model '" + *name + "' not found (and has no history)");
    }
    if (cli.options.json) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& event : events) list.push_back(event_json(event));
      print_json(std::cout, {{"events", std::move(list)}});
      return 0;
    }
    Table table({"SEQ", "TIME", "EVENT", "VERSION", "KEY", "CHANGE", "ACTOR", "REASON"});
    for (const auto& e : events) {
      table.add_row({std::to_string(e.sequence), table_time(e.time), std::string(to_string(e.type)),
                     e.version, e.key, change_text(e), e.actor, e.reason});
    }
    table.print(std::cout);
    return 0;
  });
}

struct GetArgs {
  std::string uri;
  std::string output;
};

// Loads `version`'s artifact to `path`, with a progress bar: through a counting stream into a
// temporary file that is renamed into place once complete.
bool load_with_progress(const ModelRegistry& registry, const ModelVersion& version,
                        const std::string& path) {
  AtomicOutputFile file(path);
  ProgressBar bar("get " + version.full_name(), version.artifact_size);
  CountingOutputBuf buffer(file.fd(), bar);
  std::ostream out(&buffer);
  if (!registry.load_artifact(version.model_name, version.version, out)) return false;
  out.flush();
  if (!out) throw StorageError("cannot write '" + path + "'");
  file.commit();
  bar.finish();
  return true;
}

int run_get(Cli& cli, const GetArgs& args) {
  const ModelUri uri = ModelUri::parse(args.uri);
  const ModelRegistry& registry = cli.registry();
  // Resolved once: the bytes written are those of the version reported, even if an alias or
  // a stage moves meanwhile.
  const std::optional<ModelVersion> version = registry.resolve(uri);
  if (!version) throw NotFoundError("no version matches '" + args.uri + "'");
  if (!version->artifact_path) {
    throw NotFoundError("version '" + version->full_name() + "' has no artifact");
  }
  const bool loaded = wants_progress(cli.options, version->artifact_size)
                          ? load_with_progress(registry, *version, args.output)
                          : registry.load_artifact(version->model_name, version->version,
                                                   std::filesystem::path(args.output));
  if (!loaded) throw NotFoundError("version '" + version->full_name() + "' not found");
  if (!cli.prints_changes()) return 0;
  if (cli.options.json) {
    print_json(std::cout,
               {{"uri", args.uri}, {"path", args.output}, {"version", version_json(*version)}});
  } else {
    std::cout << "wrote " << printable(version->full_name()) << " (" << version->artifact_size
              << " bytes, sha256 " << version->artifact_sha256 << ") to " << printable(args.output)
              << '\n';
  }
  return 0;
}

void add_get(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<GetArgs>();
  CLI::App* cmd = app.add_subcommand(
      "get", "Write the artifact a model URI names to a file, verified against its SHA-256");
  cmd->add_option("uri", args->uri,
                  "models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/STAGE or "
                  "models:/NAME/latest")
      ->required();
  cmd->add_option("-o,--output", args->output, "The file to write (replaced atomically)")
      ->type_name("FILE")
      ->required();
  cmd->footer(example({"modelreg get models:/fraud@champion -o model.onnx"}));
  on_run(cmd, cli, [&cli, args] { return run_get(cli, *args); });
}

}  // namespace

void add_query_commands(CLI::App& app, Cli& cli) {
  add_search(app, cli);
  add_history(app, cli);
  add_get(app, cli);
}

}  // namespace modelreg::cli
