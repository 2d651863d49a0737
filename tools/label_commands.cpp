// alias set|delete|show and tag set|delete: the labels of models and versions.

#include <iostream>
#include <memory>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "modelreg/error.hpp"
#include "output.hpp"
#include "table.hpp"

namespace modelreg::cli {
namespace {

void print_done(Cli& cli, const nlohmann::json& result, const std::string& text) {
  if (!cli.prints_changes()) return;
  if (cli.options.json) {
    print_json(std::cout, result);
  } else {
    std::cout << printable(text) << '\n';
  }
}

void add_alias_set(CLI::App& group, Cli& cli) {
  struct Args {
    std::string name, alias, version, expect;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = group.add_subcommand("set", "Point an alias at a version (create or move it)");
  cmd->add_option("name", args->name, "Model name")->required();
  cmd->add_option("alias", args->alias, "Alias")->required();
  cmd->add_option("version", args->version, "Version")->required();
  CLI::Option* expect = cmd->add_option("--expect", args->expect,
                                        "Only if the alias names this version now (\"\": only if "
                                        "it does not exist); compare-and-swap, exit 6 if not")
                            ->type_name("VERSION");
  cmd->footer(example({"modelreg alias set fraud champion 4 --expect 3"}));
  on_run(cmd, cli, [&cli, args, expect] {
    std::optional<std::string> expected;
    if (expect->count() > 0) expected = args->expect;
    const ModelVersion version =
        cli.registry().set_alias(args->name, args->alias, args->version, expected, cli.audit());
    print_done(cli, version_json(version),
               args->name + "@" + args->alias + " -> " + version.version);
    return 0;
  });
}

void add_alias_delete(CLI::App& group, Cli& cli) {
  struct Args {
    std::string name, alias;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = group.add_subcommand("delete", "Remove an alias");
  cmd->add_option("name", args->name, "Model name")->required();
  cmd->add_option("alias", args->alias, "Alias")->required();
  cmd->footer(example({"modelreg alias delete fraud shadow"}));
  on_run(cmd, cli, [&cli, args] {
    if (!cli.registry().delete_alias(args->name, args->alias, cli.audit())) {
      throw NotFoundError("model '" + args->name + "' has no alias '" + args->alias + "'");
    }
    print_done(cli, {{"model_name", args->name}, {"alias", args->alias}, {"deleted", true}},
               "deleted alias " + args->name + "@" + args->alias);
    return 0;
  });
}

void add_alias_show(CLI::App& group, Cli& cli) {
  struct Args {
    std::string name, alias;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd =
      group.add_subcommand("show", "Show a model's aliases, or the version one alias names");
  cmd->add_option("name", args->name, "Model name")->required();
  cmd->add_option("alias", args->alias, "Alias (omit for all of them)");
  cmd->footer(example({"modelreg alias show fraud", "modelreg alias show fraud champion --json"}));
  on_run(cmd, cli, [&cli, args] {
    if (!args->alias.empty()) {
      const auto version = cli.registry().get_version_by_alias(args->name, args->alias);
      if (!version) {
        throw NotFoundError("model '" + args->name + "' has no alias '" + args->alias + "'");
      }
      if (cli.options.json) {
        print_json(std::cout, version_json(*version));
      } else {
        std::cout << printable(args->name + "@" + args->alias + " -> " + version->version + " (" +
                               std::string(to_string(version->stage)) + ")")
                  << '\n';
      }
      return 0;
    }
    const auto model = cli.registry().get_model(args->name);
    if (!model) throw NotFoundError("model '" + args->name + "' not found");
    if (cli.options.json) {
      print_json(std::cout, {{"model_name", model->name}, {"aliases", model->aliases}});
      return 0;
    }
    Table table({"ALIAS", "VERSION", "STAGE"});
    for (const auto& [alias, version] : model->aliases) {
      const auto named = model->get_version(version);
      table.add_row({alias, version, named ? std::string(to_string(named->stage)) : ""});
    }
    table.print(std::cout);
    return 0;
  });
}

void add_tag_set(CLI::App& group, Cli& cli) {
  struct Args {
    std::string ref, key, value;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = group.add_subcommand("set", "Set a tag of a model or a version");
  cmd->add_option("model", args->ref, "NAME or NAME:VERSION")->required();
  cmd->add_option("key", args->key, "Tag key")->required();
  cmd->add_option("value", args->value, "Tag value")->required();
  cmd->footer(
      example({"modelreg tag set fraud:3 validated true", "modelreg tag set fraud team risk"}));
  on_run(cmd, cli, [&cli, args] {
    const ModelRef target = parse_model_ref(args->ref);
    ModelRegistry& registry = cli.registry();
    nlohmann::json result;
    if (target.version) {
      result = version_json(registry.set_version_tag(target.name, *target.version, args->key,
                                                     args->value, cli.audit()));
    } else {
      registry.set_model_tag(target.name, args->key, args->value, cli.audit());
      const auto model = registry.get_model(target.name);
      if (!model) throw NotFoundError("model '" + target.name + "' not found");
      result = model_summary_json(*model);
    }
    print_done(cli, result, "tagged " + args->ref + " " + args->key + "=" + args->value);
    return 0;
  });
}

void add_tag_delete(CLI::App& group, Cli& cli) {
  struct Args {
    std::string ref, key;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = group.add_subcommand("delete", "Remove a tag of a model or a version");
  cmd->add_option("model", args->ref, "NAME or NAME:VERSION")->required();
  cmd->add_option("key", args->key, "Tag key")->required();
  cmd->footer(example({"modelreg tag delete fraud:3 validated"}));
  on_run(cmd, cli, [&cli, args] {
    const ModelRef target = parse_model_ref(args->ref);
    ModelRegistry& registry = cli.registry();
    const bool deleted =
        target.version
            ? registry.delete_version_tag(target.name, *target.version, args->key, cli.audit())
            : registry.delete_model_tag(target.name, args->key, cli.audit());
    if (!deleted) throw NotFoundError("'" + args->ref + "' has no tag '" + args->key + "'");
    nlohmann::json result{
        {"model_name", target.name},
        {"version", target.version ? nlohmann::json(*target.version) : nlohmann::json()},
        {"key", args->key},
        {"deleted", true}};
    print_done(cli, result, "deleted tag " + args->key + " of " + args->ref);
    return 0;
  });
}

}  // namespace

void add_label_commands(CLI::App& app, Cli& cli) {
  CLI::App* alias = app.add_subcommand("alias", "Set, delete or show aliases");
  alias->footer(example({"modelreg alias set fraud champion 3"}));
  add_alias_set(*alias, cli);
  add_alias_delete(*alias, cli);
  add_alias_show(*alias, cli);

  CLI::App* tag = app.add_subcommand("tag", "Set or delete tags of models and versions");
  tag->footer(example({"modelreg tag set fraud:3 validated true"}));
  add_tag_set(*tag, cli);
  add_tag_delete(*tag, cli);
}

}  // namespace modelreg::cli
