// list and show: the models of the registry, one model, one version.

#include <iostream>
#include <memory>

#include "commands.hpp"
#include "modelreg/error.hpp"
#include "modelreg/search.hpp"
#include "output.hpp"
#include "table.hpp"

namespace modelreg::cli {
namespace {

std::vector<RegisteredModel> all_models(const ModelRegistry& registry) {
  std::vector<RegisteredModel> models;
  std::string token;
  do {
    ModelPage page = registry.search_models("", "name", kMaxSearchResults, token);
    for (auto& model : page.models) models.push_back(std::move(model));
    token = std::move(page.next_page_token);
  } while (!token.empty());
  return models;
}

std::string version_of(const std::optional<ModelVersion>& version) {
  return version ? version->version : std::string();
}

int run_list(Cli& cli) {
  const std::vector<RegisteredModel> models = all_models(cli.registry());
  if (cli.options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& model : models) list.push_back(model_summary_json(model));
    print_json(std::cout, nlohmann::json{{"models", std::move(list)}});
    return 0;
  }
  Table table({"NAME", "VERSIONS", "LATEST", "PRODUCTION", "ALIASES", "UPDATED"});
  for (const auto& model : models) {
    table.add_row({model.name, std::to_string(model.versions.size()),
                   version_of(model.latest_version()), version_of(model.production_version()),
                   join_pairs(model.aliases), table_time(model_updated_at(model))});
  }
  table.print(std::cout);
  return 0;
}

void print_versions_table(const std::vector<ModelVersion>& versions) {
  Table table({"VERSION", "STAGE", "FRAMEWORK", "ALIASES", "SIZE", "CREATED", "UPDATED"});
  for (const auto& v : versions) {
    table.add_row({v.version, std::string(to_string(v.stage)), std::string(to_string(v.framework)),
                   join(v.aliases, ","),
                   v.artifact_path ? human_size(v.artifact_size) : std::string(),
                   table_time(v.created_at), table_time(v.updated_at)});
  }
  table.print(std::cout);
}

int show_model(Cli& cli, const std::string& name) {
  const std::optional<RegisteredModel> model = cli.registry().get_model(name);
  if (!model) throw NotFoundError("model '" + name + "' not found");
  if (cli.options.json) {
    print_json(std::cout, model_json(*model));
    return 0;
  }
  print_fields(std::cout, {{"name", model->name},
                           {"description", model->description},
                           {"tags", join_pairs(model->tags)},
                           {"aliases", join_pairs(model->aliases)},
                           {"latest", version_of(model->latest_version())},
                           {"production", version_of(model->production_version())},
                           {"created", table_time(model->created_at)},
                           {"updated", table_time(model_updated_at(*model))}});
  std::cout << '\n';
  print_versions_table(model->versions);
  return 0;
}

int show_version(Cli& cli, const std::string& name, const std::string& version) {
  const std::optional<ModelVersion> found = cli.registry().get_version(name, version);
  if (!found) throw NotFoundError("version '" + name + ":" + version + "' not found");
  if (cli.options.json) {
    print_json(std::cout, version_json(*found));
    return 0;
  }
  const ModelVersion& v = *found;
  print_fields(std::cout,
               {{"model", v.model_name},
                {"version", v.version},
                {"stage", std::string(to_string(v.stage))},
                {"framework", std::string(to_string(v.framework))},
                {"aliases", join(v.aliases, ", ")},
                {"description", v.description},
                {"artifact", v.artifact_path.value_or("")},
                {"size", v.artifact_path ? std::to_string(v.artifact_size) + " bytes" : ""},
                {"sha256", v.artifact_sha256},
                {"metrics", join_pairs(v.metrics.to_dict())},
                {"parameters", v.parameters.empty() ? std::string() : v.parameters.dump()},
                {"tags", join_pairs(v.tags)},
                {"created", table_time(v.created_at)},
                {"updated", table_time(v.updated_at)}});
  return 0;
}

}  // namespace

void add_model_commands(CLI::App& app, Cli& cli) {
  CLI::App* list = app.add_subcommand("list",
                                      "List the models: versions, latest, production, "
                                      "aliases, last update");
  list->footer(example({"modelreg list", "modelreg list --json"}));
  on_run(list, cli, [&cli] { return run_list(cli); });

  auto ref = std::make_shared<std::string>();
  CLI::App* show = app.add_subcommand(
      "show", "Show a model with its versions, or one version with all its fields");
  show->add_option("model", *ref, "NAME or NAME:VERSION")->required();
  show->footer(example({"modelreg show fraud", "modelreg show fraud:3 --json"}));
  on_run(show, cli, [&cli, ref] {
    const ModelRef target = parse_model_ref(*ref);
    return target.version ? show_version(cli, target.name, *target.version)
                          : show_model(cli, target.name);
  });
}

}  // namespace modelreg::cli
