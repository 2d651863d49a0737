// The artifacts URL scheme of modelreg::s3 (ModelRegistry::open(..., artifacts_url)):
// s3://bucket/prefix, the rest of the options from the environment (S3Options::resolved).

#include "modelreg/s3_model_store.hpp"
#include "registry_urls.hpp"

// The symbol the target's consumers are made to link (see src/CMakeLists.txt).
extern "C" void modelreg_s3_urls() {}

namespace modelreg {
namespace {

const detail::SchemeRegistrar registrar([] {
  detail::register_artifacts_scheme("s3", [](const std::string& url, const OpenOptions&) {
    return std::make_shared<S3ModelStore>(S3Options::from_url(url));
  });
});

}  // namespace
}  // namespace modelreg
