// train_and_serve: a small but real training pipeline and a separate serving side, sharing
// nothing but a modelreg registry directory.
//
//   train_and_serve <registry-dir>
//
// Training: logistic regression by batch gradient descent on a seeded, generated 2-D data set
// (two Gaussian blobs), with a train/validation split. Several hyperparameter settings are
// trained; each becomes a version carrying its real validation metrics, its hyperparameters and
// its weights (the artifact, in the format documented at serialize_model). The version with the
// best validation F1 is promoted through Staging to Production.
//
// Serving: serve() receives only the directory and opens its own registry, as another process
// would. It loads whatever is in Production, decodes the weights, predicts fresh points and
// checks that the model still earns the metrics it was registered with. Any inconsistency makes
// the program exit non-zero.
//
// Re-runnable: each run adds versions numbered after the highest one already registered.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <modelreg/modelreg.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

const std::string kModelName = "blob-classifier";

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

struct Example {
  std::vector<double> features;
  int label = 0;  // 0 or 1
};
using Dataset = std::vector<Example>;

// Normal variates from std::mt19937 by the Box-Muller transform. std::mt19937 is specified
// exactly by the standard, std::normal_distribution is not (each standard library has its own),
// so a seed gives the same data set with every standard library (up to the last bits of
// std::log and std::sin).
class Sampler {
 public:
  explicit Sampler(std::uint32_t seed) : engine_(seed) {}

  // Uniform in the open interval (0, 1).
  double uniform() { return (static_cast<double>(engine_()) + 0.5) / 4294967296.0; }

  double normal(double mean, double stddev) {
    if (!spare_) {
      const double radius = std::sqrt(-2.0 * std::log(uniform()));
      const double angle = 2.0 * 3.14159265358979323846 * uniform();
      spare_ = radius * std::sin(angle);
      return mean + stddev * radius * std::cos(angle);
    }
    const double z = *spare_;
    spare_.reset();
    return mean + stddev * z;
  }

 private:
  std::mt19937 engine_;
  std::optional<double> spare_;
};

// How a data set was made. Recorded in every version's parameters, so that anyone holding the
// registry can rebuild the exact validation split and re-check the registered metrics.
struct DataSpec {
  std::uint32_t seed = 20240611;
  int samples = 1000;
  double validation_fraction = 0.3;
};

// Two overlapping Gaussian blobs: 40% positives around (1.5, 12), negatives around (0, 0). The
// second feature is on a ten times larger scale, which is why the model standardises its inputs.
Dataset make_blobs(std::uint32_t seed, int samples) {
  Sampler sampler(seed);
  Dataset data;
  data.reserve(static_cast<std::size_t>(samples));
  for (int i = 0; i < samples; ++i) {
    Example example;
    example.label = sampler.uniform() < 0.4 ? 1 : 0;
    example.features = {sampler.normal(example.label ? 1.5 : 0.0, 1.0),
                        sampler.normal(example.label ? 12.0 : 0.0, 10.0)};
    data.push_back(std::move(example));
  }
  return data;
}

// The examples are generated in random order, so the split is a cut: training first.
std::pair<Dataset, Dataset> make_split(const DataSpec& spec) {
  Dataset data = make_blobs(spec.seed, spec.samples);
  const auto training_size =
      static_cast<std::ptrdiff_t>(std::lround(spec.samples * (1.0 - spec.validation_fraction)));
  return {Dataset(data.begin(), data.begin() + training_size),
          Dataset(data.begin() + training_size, data.end())};
}

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

double sigmoid(double z) {
  // Two forms, so that exp never overflows.
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}

// p(label = 1 | x) = sigmoid(w . (x - mean) / scale + bias); predicts 1 when p >= threshold.
struct LogisticModel {
  std::vector<double> feature_mean;   // standardisation, fitted on the training split
  std::vector<double> feature_scale;  // > 0
  std::vector<double> weights;
  double bias = 0.0;
  double threshold = 0.5;

  double probability(const std::vector<double>& x) const {
    double z = bias;
    for (std::size_t j = 0; j < weights.size(); ++j) {
      z += weights[j] * (x[j] - feature_mean[j]) / feature_scale[j];
    }
    return sigmoid(z);
  }
  int predict(const std::vector<double>& x) const { return probability(x) >= threshold ? 1 : 0; }
};

struct Hyperparameters {
  double learning_rate;
  int epochs;
  double l2;  // penalty (l2 / 2) * |w|^2 on the weights; the bias is not penalised
};

// Minimises the mean log loss + L2 penalty by full-batch gradient descent from w = 0.
LogisticModel train(const Dataset& data, const Hyperparameters& h) {
  const auto n = static_cast<double>(data.size());
  const std::size_t d = data.front().features.size();
  LogisticModel model;
  model.feature_mean.assign(d, 0.0);
  model.feature_scale.assign(d, 0.0);
  for (const Example& e : data) {
    for (std::size_t j = 0; j < d; ++j) model.feature_mean[j] += e.features[j] / n;
  }
  for (const Example& e : data) {
    for (std::size_t j = 0; j < d; ++j) {
      const double centred = e.features[j] - model.feature_mean[j];
      model.feature_scale[j] += centred * centred / n;
    }
  }
  for (double& s : model.feature_scale) s = s > 0 ? std::sqrt(s) : 1.0;
  model.weights.assign(d, 0.0);

  std::vector<double> gradient(d);
  for (int epoch = 0; epoch < h.epochs; ++epoch) {
    std::fill(gradient.begin(), gradient.end(), 0.0);
    double bias_gradient = 0.0;
    for (const Example& e : data) {
      const double error = model.probability(e.features) - e.label;
      for (std::size_t j = 0; j < d; ++j) {
        gradient[j] += error * (e.features[j] - model.feature_mean[j]) / model.feature_scale[j];
      }
      bias_gradient += error;
    }
    for (std::size_t j = 0; j < d; ++j) {
      model.weights[j] -= h.learning_rate * (gradient[j] / n + h.l2 * model.weights[j]);
    }
    model.bias -= h.learning_rate * bias_gradient / n;
  }
  return model;
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

// Area under the ROC curve by ranking (Mann-Whitney U): the probability that a random positive
// scores above a random negative, ties counting half. nullopt unless both classes are present.
std::optional<double> auc_roc(const std::vector<double>& scores, const std::vector<int>& labels) {
  std::vector<std::size_t> order(scores.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0.0;
  double positives = 0.0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;  // [i, j) is a run of tied scores; each gets the average of their ranks
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k) {
      if (labels[order[k]] == 1) {
        positive_rank_sum += average_rank;
        positives += 1.0;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0.0 || negatives == 0.0) return std::nullopt;
  return (positive_rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
}

// The registry's standard metrics at the model's threshold, plus a custom "log_loss".
modelreg::ModelMetrics evaluate(const LogisticModel& model, const Dataset& data) {
  std::vector<double> scores;
  std::vector<int> labels;
  double tp = 0, fp = 0, tn = 0, fn = 0, log_loss = 0;
  for (const Example& e : data) {
    const double p = model.probability(e.features);
    const bool predicted = p >= model.threshold;
    const bool actual = e.label == 1;
    tp += predicted && actual;
    fp += predicted && !actual;
    tn += !predicted && !actual;
    fn += !predicted && actual;
    const double clipped = std::clamp(p, 1e-15, 1.0 - 1e-15);
    log_loss -= actual ? std::log(clipped) : std::log(1.0 - clipped);
    scores.push_back(p);
    labels.push_back(e.label);
  }
  modelreg::ModelMetrics metrics;
  metrics.accuracy = (tp + tn) / static_cast<double>(data.size());
  metrics.precision = tp + fp > 0 ? tp / (tp + fp) : 0.0;
  metrics.recall = tp + fn > 0 ? tp / (tp + fn) : 0.0;
  const double pr = *metrics.precision + *metrics.recall;
  metrics.f1_score = pr > 0 ? 2.0 * *metrics.precision * *metrics.recall / pr : 0.0;
  metrics.auc_roc = auc_roc(scores, labels);
  metrics.custom["log_loss"] = log_loss / static_cast<double>(data.size());
  return metrics;
}

// ---------------------------------------------------------------------------------------------
// Artifact format
// ---------------------------------------------------------------------------------------------

// Artifact format "modelreg-example/logistic-regression", version 1: one UTF-8 JSON object
//
//   {"format": "modelreg-example/logistic-regression", "format_version": 1, "n_features": 2,
//    "feature_mean": [m0, m1], "feature_scale": [s0, s1], "weights": [w0, w1],
//    "bias": b, "threshold": 0.5}
//
// Numbers are written in their shortest exact form, so a model round-trips bit for bit. A
// reader accepts only this format at a version it knows; a later incompatible change bumps
// format_version, and old readers then refuse the artifact instead of mispredicting.
constexpr const char* kFormat = "modelreg-example/logistic-regression";
constexpr int kFormatVersion = 1;

modelreg::Bytes serialize_model(const LogisticModel& model) {
  const nlohmann::json document = {
      {"format", kFormat},
      {"format_version", kFormatVersion},
      {"n_features", model.weights.size()},
      {"feature_mean", model.feature_mean},
      {"feature_scale", model.feature_scale},
      {"weights", model.weights},
      {"bias", model.bias},
      {"threshold", model.threshold},
  };
  return modelreg::to_bytes(document.dump());
}

// Decodes an artifact written by serialize_model. Throws std::runtime_error naming the problem
// if it is not valid JSON, of another format or version, or has missing, mis-sized or
// non-finite fields.
LogisticModel deserialize_model(const modelreg::Bytes& bytes) {
  const nlohmann::json document = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr,
                                                        /*allow_exceptions=*/false);
  auto fail = [](const std::string& why) -> std::runtime_error {
    return std::runtime_error(std::string("bad model artifact: ") + why);
  };
  if (document.is_discarded()) throw fail("not valid JSON");
  if (!document.is_object()) throw fail("not a JSON object");
  const auto format = document.find("format");
  if (format == document.end() || !format->is_string() || *format != kFormat) {
    throw fail("format is not " + std::string(kFormat));
  }
  const auto version = document.find("format_version");
  if (version == document.end() || !version->is_number_integer() || *version != kFormatVersion) {
    throw fail("unsupported format_version (this reader knows " + std::to_string(kFormatVersion) +
               ")");
  }
  const auto n_features = document.find("n_features");
  if (n_features == document.end() || !n_features->is_number_unsigned() || *n_features == 0) {
    throw fail("n_features must be a positive integer");
  }
  const auto d = n_features->get<std::size_t>();

  auto number = [&](const char* key) {
    const auto it = document.find(key);
    if (it == document.end() || !it->is_number() || !std::isfinite(it->get<double>())) {
      throw fail(std::string(key) + " must be a finite number");
    }
    return it->get<double>();
  };
  auto vector = [&](const char* key) {
    const auto it = document.find(key);
    if (it == document.end() || !it->is_array() || it->size() != d) {
      throw fail(std::string(key) + " must be an array of n_features numbers");
    }
    std::vector<double> values;
    for (const nlohmann::json& v : *it) {
      if (!v.is_number() || !std::isfinite(v.get<double>())) {
        throw fail(std::string(key) + " holds a value that is not a finite number");
      }
      values.push_back(v.get<double>());
    }
    return values;
  };

  LogisticModel model;
  model.feature_mean = vector("feature_mean");
  model.feature_scale = vector("feature_scale");
  model.weights = vector("weights");
  model.bias = number("bias");
  model.threshold = number("threshold");
  for (double s : model.feature_scale) {
    if (s <= 0) throw fail("feature_scale values must be positive");
  }
  if (model.threshold <= 0 || model.threshold >= 1) throw fail("threshold must be in (0, 1)");
  return model;
}

// ---------------------------------------------------------------------------------------------
// Training side
// ---------------------------------------------------------------------------------------------

// The highest purely numeric version of the model, 0 if there is none.
long last_version_number(const modelreg::ModelRegistry& registry) {
  long last = 0;
  for (const modelreg::ModelVersion& v : registry.list_versions(kModelName)) {
    if (v.version.find_first_not_of("0123456789") == std::string::npos) {
      last = std::max(last, std::stol(v.version));
    }
  }
  return last;
}

// Registers under the next free version number after `number`, and leaves `number` at it.
// Another process may take a number between our look and our registration; the registry then
// throws AlreadyExistsError, having written nothing, and we move on to the next number.
modelreg::ModelVersion register_next(modelreg::ModelRegistry& registry, long& number,
                                     const modelreg::RegisterOptions& options) {
  for (;;) {
    try {
      return registry.register_version(kModelName, std::to_string(++number), options);
    } catch (const modelreg::AlreadyExistsError&) {
    }
  }
}

void print_metrics(const modelreg::ModelMetrics& m) {
  std::cout << "acc " << m.accuracy.value_or(NAN) << "  prec " << m.precision.value_or(NAN)
            << "  rec " << m.recall.value_or(NAN) << "  f1 " << m.f1_score.value_or(NAN) << "  auc "
            << m.auc_roc.value_or(NAN) << "  log_loss " << m.get("log_loss").value_or(NAN);
}

// Trains every candidate, registers each, promotes the best by validation F1. Returns its version.
std::string train_and_register(const std::filesystem::path& registry_dir) {
  modelreg::ModelRegistry registry = modelreg::ModelRegistry::open(registry_dir);

  const DataSpec spec;
  const auto [training, validation] = make_split(spec);
  const std::vector<Hyperparameters> candidates = {
      {0.01, 20, 0.0},   // barely trained: a fair boundary, but poorly calibrated (log_loss)
      {0.1, 200, 0.0},   // converged
      {0.5, 500, 1e-3},  // converged, lightly regularised
      {0.5, 500, 2.0},   // over-regularised: weights shrunk towards zero
  };

  long number = last_version_number(registry);
  std::optional<modelreg::ModelVersion> best;
  std::cout << "training " << candidates.size() << " candidates on " << training.size()
            << " examples, validating on " << validation.size() << '\n';
  for (const Hyperparameters& h : candidates) {
    const LogisticModel model = train(training, h);

    modelreg::RegisterOptions options;
    options.framework = modelreg::ModelFramework::Custom;
    options.metrics = evaluate(model, validation);
    options.parameters = {
        {"algorithm", "logistic_regression"},
        {"optimizer", "batch_gradient_descent"},
        {"learning_rate", h.learning_rate},
        {"epochs", h.epochs},
        {"l2", h.l2},
        {"data",
         {{"generator", "two_gaussian_blobs"},
          {"seed", spec.seed},
          {"samples", spec.samples},
          {"validation_fraction", spec.validation_fraction}}},
    };
    options.tags = {{"example", "train_and_serve"}, {"artifact_format", kFormat}};
    options.description = "logistic regression, learning_rate " +
                          nlohmann::json(h.learning_rate).dump() + ", " + std::to_string(h.epochs) +
                          " epochs, l2 " + nlohmann::json(h.l2).dump();
    options.artifact = serialize_model(model);

    const modelreg::ModelVersion registered = register_next(registry, number, options);
    std::cout << "  registered " << registered.full_name() << "  ";
    print_metrics(registered.metrics);
    std::cout << '\n';
    if (!best || *registered.metrics.f1_score > *best->metrics.f1_score) best = registered;
  }

  // Staging first, then Production only if it is still in Staging (compare-and-swap): if someone
  // moved it meanwhile, this throws FailedPreconditionError instead of overriding them.
  const std::optional<modelreg::ModelVersion> previous = registry.get_production_model(kModelName);
  registry.transition_stage(kModelName, best->version, modelreg::ModelStage::Staging);
  registry.transition_stage(kModelName, best->version, modelreg::ModelStage::Production,
                            modelreg::ModelStage::Staging);
  std::cout << "promoted " << best->full_name() << " (best validation f1 "
            << *best->metrics.f1_score << ") to production";
  if (previous) std::cout << "; " << previous->full_name() << " archived";
  std::cout << '\n';
  return best->version;
}

// ---------------------------------------------------------------------------------------------
// Serving side: knows only the registry directory.
// ---------------------------------------------------------------------------------------------

struct ServeReport {
  std::string version;  // the production version that was served
  int failures = 0;     // failed consistency checks
};

// Serves the production model of the registry in `registry_dir` and checks it.
ServeReport serve(const std::filesystem::path& registry_dir) {
  int failures = 0;
  auto check = [&failures](bool ok, const std::string& what) {
    std::cout << (ok ? "  ok    " : "  FAIL  ") << what << '\n';
    failures += ok ? 0 : 1;
  };

  const modelreg::ModelRegistry registry = modelreg::ModelRegistry::open(registry_dir);
  const std::optional<modelreg::ModelVersion> production =
      registry.get_production_model(kModelName);
  if (!production) {
    std::cout << "  FAIL  " << kModelName << " has no production version\n";
    return {"", 1};
  }
  const std::optional<modelreg::Bytes> artifact =
      registry.load_artifact(kModelName, production->version);  // size and SHA-256 checked
  if (!artifact) {
    std::cout << "  FAIL  " << production->full_name() << " has no artifact\n";
    return {production->version, 1};
  }
  const LogisticModel model = deserialize_model(*artifact);
  std::cout << "serving " << production->full_name() << " (" << artifact->size()
            << "-byte artifact, weights " << model.weights[0] << ", " << model.weights[1]
            << ", bias " << model.bias << ")\n";

  // Predict a few fresh points.
  for (const std::vector<double>& x :
       std::vector<std::vector<double>>{{-1.0, -5.0}, {0.7, 6.0}, {2.5, 20.0}}) {
    std::cout << "  predict(" << x[0] << ", " << x[1] << ") = " << model.predict(x)
              << "  (p = " << model.probability(x) << ")\n";
  }

  // 1. Reproducibility: the validation split rebuilt from the recorded parameters must give
  //    exactly the registered metrics, or the artifact is not the model that was evaluated.
  const nlohmann::json& data = production->parameters.at("data");
  DataSpec spec;
  spec.seed = data.at("seed").get<std::uint32_t>();
  spec.samples = data.at("samples").get<int>();
  spec.validation_fraction = data.at("validation_fraction").get<double>();
  const modelreg::ModelMetrics registered = production->metrics;
  const Dataset validation = make_split(spec).second;
  const modelreg::ModelMetrics recomputed = evaluate(model, validation);
  for (const char* name : {"accuracy", "precision", "recall", "f1_score", "auc_roc", "log_loss"}) {
    const std::optional<double> a = registered.get(name);
    const std::optional<double> b = recomputed.get(name);
    check(a && b && std::abs(*a - *b) <= 1e-12, std::string("validation ") + name +
                                                    " reproduces the registered " +
                                                    std::to_string(a.value_or(NAN)));
  }

  // 2. Generalisation: on a held-out set the registry has never seen, accuracy must agree with
  //    the registered (validation) accuracy within 4 standard errors of that estimate.
  const Dataset held_out = make_blobs(spec.seed + 1, 5000);
  double correct = 0;
  for (const Example& e : held_out) correct += model.predict(e.features) == e.label;
  const double accuracy = correct / static_cast<double>(held_out.size());
  const double expected = registered.accuracy.value_or(NAN);
  const auto validation_size = static_cast<double>(validation.size());
  const double tolerance = 4.0 * std::sqrt(expected * (1.0 - expected) / validation_size) + 1e-3;
  check(std::abs(accuracy - expected) <= tolerance,
        "held-out accuracy " + std::to_string(accuracy) + " on " + std::to_string(held_out.size()) +
            " fresh examples is within " + std::to_string(tolerance) + " of the registered " +
            std::to_string(expected));
  return {production->version, failures};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <registry-dir>\n";
    return 2;
  }
  const std::filesystem::path registry_dir = argv[1];
  std::cout << std::fixed << std::setprecision(4);
  try {
    const std::string promoted = train_and_register(registry_dir);

    std::cout << "\n--- serving (a separate registry instance, as in another process) ---\n";
    const ServeReport report = serve(registry_dir);
    if (report.version != promoted) {
      // Correct only if another writer promoted its own version after ours, archiving ours.
      const std::optional<modelreg::ModelVersion> ours =
          modelreg::ModelRegistry::open(registry_dir).get_version(kModelName, promoted);
      if (!ours || ours->stage != modelreg::ModelStage::Archived) {
        std::cerr << "served " << kModelName << ":" << report.version << ", but " << promoted
                  << " was promoted and is still " << (ours ? to_string(ours->stage) : "absent")
                  << '\n';
        return EXIT_FAILURE;
      }
      std::cout << "note: another writer has since replaced " << promoted << " in production\n";
    }
    if (report.failures > 0) {
      std::cerr << report.failures << " consistency check(s) failed\n";
      return EXIT_FAILURE;
    }
    std::cout << "production model " << kModelName << ":" << promoted << " is consistent\n";
    return EXIT_SUCCESS;
  } catch (const modelreg::Error& e) {
    std::cerr << "modelreg error [" << modelreg::to_string(e.code()) << "]: " << e.what() << '\n';
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
  }
  return EXIT_FAILURE;
}
