// quickstart: the life of a model in a modelreg registry, in one page.
//
//   quickstart [registry-dir]        (default: ./quickstart-registry)
//
// Registers two versions of a model, promotes the first through Staging to Production, then
// promotes the second, which archives the first in the same atomic step, and loads the artifact
// that is in Production. A registry is durable and a registered version is never overwritten, so
// running this again against the same directory adds two new versions ("3" and "4", ...).

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <modelreg/modelreg.hpp>
#include <optional>
#include <string>

namespace {

// The highest purely numeric version string of `model`, 0 if there is none.
long last_version_number(const modelreg::ModelRegistry& registry, const std::string& model) {
  long last = 0;
  for (const modelreg::ModelVersion& v : registry.list_versions(model)) {
    if (v.version.find_first_not_of("0123456789") == std::string::npos) {
      last = std::max(last, std::stol(v.version));
    }
  }
  return last;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "./quickstart-registry";
  const std::string model = "fraud-detector";
  try {
    // A durable registry: SQLite catalog in dir/registry.db, artifacts in dir/artifacts.
    modelreg::ModelRegistry registry = modelreg::ModelRegistry::open(dir);

    // Version strings are yours to choose; here "1", "2", ... after those already registered.
    // Registering one that exists throws AlreadyExistsError and changes nothing.
    const long last = last_version_number(registry, model);
    const std::string first = std::to_string(last + 1);
    const std::string second = std::to_string(last + 2);

    modelreg::RegisterOptions options;
    options.framework = modelreg::ModelFramework::Sklearn;
    options.metrics.accuracy = 0.94;
    options.metrics.f1_score = 0.81;
    options.metrics.custom["latency_ms"] = 2.5;  // any metric of your own
    options.parameters = {{"n_estimators", 100}, {"max_depth", 6}};
    options.tags = {{"team", "risk"}, {"dataset", "transactions-2024-q4"}};
    options.description = "baseline gradient boosting";
    options.artifact = modelreg::to_bytes("weights of " + model + ":" + first);
    registry.register_version(model, first, options);  // stage: Development

    options.metrics.accuracy = 0.96;
    options.metrics.f1_score = 0.86;
    options.parameters["n_estimators"] = 300;
    options.description = "more trees";
    options.artifact = modelreg::to_bytes("weights of " + model + ":" + second);
    registry.register_version(model, second, options);

    // Development -> Staging -> Production.
    registry.transition_stage(model, first, modelreg::ModelStage::Staging);
    registry.transition_stage(model, first, modelreg::ModelStage::Production);
    std::cout << "promoted " << model << ":" << first << " to production\n";

    // Promoting another version archives the current one: never zero, never two in Production.
    registry.transition_stage(model, second, modelreg::ModelStage::Production);
    std::cout << "promoted " << model << ":" << second << " to production; " << first << " is now "
              << modelreg::to_string(registry.get_version(model, first).value().stage)
              << "\n\nversions in " << dir << ":\n";
    for (const modelreg::ModelVersion& v : registry.list_versions(model)) {
      std::cout << "  " << v.full_name() << "  " << modelreg::to_string(v.stage) << "  \""
                << v.description << "\"\n";
    }

    // What a serving process does: ask for Production, load its (checksum-verified) artifact.
    // Lookups return std::optional: absence is an answer, not an error.
    const std::optional<modelreg::ModelVersion> production = registry.get_production_model(model);
    const std::optional<modelreg::Bytes> artifact =
        production ? registry.load_artifact(model, production->version) : std::nullopt;
    if (!artifact) {
      std::cerr << model << " has no production version with an artifact\n";
      return EXIT_FAILURE;
    }
    std::cout << "\nserving " << production->full_name() << ": " << artifact->size()
              << "-byte artifact \"" << modelreg::to_string(*artifact) << "\"\n";
    return EXIT_SUCCESS;
  } catch (const modelreg::Error& e) {
    // Every modelreg failure has a code (not_found, already_exists, storage, data_loss, ...).
    std::cerr << "modelreg error [" << modelreg::to_string(e.code()) << "]: " << e.what() << '\n';
    return EXIT_FAILURE;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return EXIT_FAILURE;
  }
}
