// export, import, verify and gc: moving models between registries and keeping one healthy.

#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "modelreg/maintenance.hpp"
#include "modelreg/model_archive.hpp"
#include "output.hpp"
#include "table.hpp"

namespace modelreg::cli {
namespace {

ArchiveCompression parse_compression(const std::string& text) {
  if (text == "none") return ArchiveCompression::None;
  if (text == "gzip") return ArchiveCompression::Gzip;
  if (text == "zstd") return ArchiveCompression::Zstd;
  throw UsageError("--compression must be none, gzip or zstd, not '" + printable(text) + "'");
}

struct ExportArgs {
  std::string name;
  std::string output;
  std::vector<std::string> versions;
  std::string compression = "none";
};

int run_export(Cli& cli, const ExportArgs& args) {
  ExportOptions options;
  options.versions = args.versions;
  options.compression = parse_compression(args.compression);
  const ExportReport report = export_model(cli.registry(), args.name, args.output, options);
  if (cli.options.json) {
    print_json(std::cout, {{"model", report.model_name},
                           {"archive", args.output},
                           {"versions", report.versions},
                           {"artifacts", report.artifacts},
                           {"events", report.events},
                           {"artifact_bytes", report.artifact_bytes},
                           {"archive_bytes", report.archive_bytes}});
  } else if (cli.prints_changes()) {
    std::cout << "exported " << report.model_name << " (" << report.versions << " versions, "
              << report.events << " events, " << human_size(report.artifact_bytes)
              << " of artifacts) to " << printable(args.output) << '\n';
  }
  return 0;
}

int run_import(Cli& cli, const std::string& archive) {
  ImportOptions options;
  options.audit = cli.audit();
  const ImportReport report = import_model(cli.registry(RegistryAccess::Create), archive, options);
  if (cli.options.json) {
    print_json(std::cout, {{"model", report.model_name},
                           {"archive", archive},
                           {"versions", report.versions},
                           {"artifacts", report.artifacts},
                           {"events", report.events},
                           {"artifact_bytes", report.artifact_bytes}});
  } else if (cli.prints_changes()) {
    std::cout << "imported " << report.model_name << " (" << report.versions << " versions, "
              << report.events << " events, " << human_size(report.artifact_bytes)
              << " of artifacts) from " << printable(archive) << '\n';
  }
  return 0;
}

int run_verify(Cli& cli, const std::string& model) {
  VerifyOptions options;
  options.model_name = model;
  const VerifyReport report = verify_registry(cli.registry(), options);
  if (cli.options.json) {
    nlohmann::json problems = nlohmann::json::array();
    for (const ArtifactProblem& p : report.problems) {
      problems.push_back({{"model", p.model_name},
                          {"version", p.version},
                          {"artifact_path", p.artifact_path},
                          {"kind", to_string(p.kind)},
                          {"message", p.message}});
    }
    print_json(std::cout, {{"healthy", report.healthy()},
                           {"versions_checked", report.versions_checked},
                           {"artifacts_checked", report.artifacts_checked},
                           {"bytes_checked", report.bytes_checked},
                           {"problems", problems},
                           {"unreferenced_artifacts", report.unreferenced_artifacts}});
  } else {
    if (!report.problems.empty()) {
      Table table({"MODEL", "VERSION", "PROBLEM", "DETAIL"});
      for (const ArtifactProblem& p : report.problems) {
        table.add_row({p.model_name, p.version, to_string(p.kind), p.message});
      }
      table.print(std::cout);
      std::cout << '\n';
    }
    for (const std::string& path : report.unreferenced_artifacts) {
      std::cout << "unreferenced artifact (modelreg gc removes it): " << printable(path) << '\n';
    }
    std::cout << (report.healthy() ? "healthy" : "UNHEALTHY") << ": " << report.versions_checked
              << " versions, " << report.artifacts_checked << " artifacts ("
              << human_size(report.bytes_checked) << ") checked, " << report.problems.size()
              << " problems\n";
  }
  return report.healthy() ? 0 : static_cast<int>(ExitCode::Failure);
}

int run_gc(Cli& cli, bool apply) {
  GcOptions options;
  options.apply = apply;
  const GcReport report = collect_garbage(cli.registry(), options);
  if (cli.options.json) {
    nlohmann::json items = nlohmann::json::array();
    for (const GarbageItem& item : report.items) {
      items.push_back({{"kind", to_string(item.kind)}, {"path", item.path}, {"bytes", item.bytes}});
    }
    print_json(std::cout,
               {{"applied", report.applied},
                {"items", items},
                {"bytes", report.bytes},
                {"registrations_rolled_back", report.recovered.registrations_rolled_back},
                {"deletions_completed", report.recovered.deletions_completed},
                {"unsettled_reservations", report.recovered.unsettled.size()}});
    return 0;
  }
  if (!report.items.empty()) {
    Table table({"KIND", "PATH", "SIZE"});
    for (const GarbageItem& item : report.items) {
      table.add_row({to_string(item.kind), item.path, human_size(item.bytes)});
    }
    table.print(std::cout);
  }
  std::cout << (report.applied ? "removed " : "would remove ") << report.items.size() << " items, "
            << human_size(report.bytes);
  if (!report.applied && !report.items.empty()) std::cout << " (run with --apply to remove them)";
  std::cout << '\n';
  return 0;
}

}  // namespace

void add_maintenance_commands(CLI::App& app, Cli& cli) {
  {
    auto args = std::make_shared<ExportArgs>();
    CLI::App* command =
        app.add_subcommand("export", "Write a model and its artifacts to an archive");
    command->add_option("name", args->name, "Model name")->required();
    command->add_option("-o,--output", args->output, "Archive file to write (a tar file)")
        ->required();
    command->add_option("--version", args->versions, "Only this version (repeatable)");
    command->add_option("--compression", args->compression, "none (default), gzip or zstd");
    command->footer(example({"modelreg export fraud -o fraud.tar",
                             "modelreg export fraud --version 3 --version 4 -o fraud-3-4.tar"}));
    on_run(command, cli, [&cli, args] { return run_export(cli, *args); });
  }
  {
    auto archive = std::make_shared<std::string>();
    CLI::App* command =
        app.add_subcommand("import", "Add the model of an archive to the registry, verified");
    command->add_option("archive", *archive, "Archive file made by modelreg export")->required();
    command->footer(example({"modelreg --registry /srv/models import fraud.tar"}));
    on_run(command, cli, [&cli, archive] { return run_import(cli, *archive); });
  }
  {
    auto model = std::make_shared<std::string>();
    CLI::App* command = app.add_subcommand(
        "verify", "Re-hash every artifact; exit 1 if one is missing, truncated or corrupt");
    command->add_option("--model", *model, "Only this model");
    command->footer(example({"modelreg verify", "modelreg verify --model fraud --json"}));
    on_run(command, cli, [&cli, model] { return run_verify(cli, *model); });
  }
  {
    auto apply = std::make_shared<bool>(false);
    CLI::App* command = app.add_subcommand(
        "gc", "Find (with --apply: remove) unreferenced artifacts and leftovers of crashes");
    command->add_flag("--apply", *apply, "Remove them (default: a dry run that only reports)");
    command->footer(example({"modelreg gc", "modelreg gc --apply"}));
    on_run(command, cli, [&cli, apply] { return run_gc(cli, *apply); });
  }
}

}  // namespace modelreg::cli
