// Fuzzes import_model, the reader of model archives: the input is written to a file (one path
// per process, in a directory made once) and imported into a fresh in-memory registry. The
// documented errors are expected (InvalidArgumentError for a malformed or hostile archive,
// DataLossError for a damaged one, NotFoundError, AlreadyExistsError, FailedPreconditionError);
// anything else aborts: StorageError too, since neither a readable local file nor an in-memory
// registry has I/O errors. An import that succeeds must show its versions; importing the same
// archive again must be refused and change nothing.
//
// The seeds in corpus/fuzz_import_archive/ were written by the CLI from one small model (four
// versions, one deleted; stages, aliases, tags, metrics, parameters, three tiny artifacts):
//   modelreg --actor seed register fraud 1 --artifact a1 --metric auc_roc=0.91 ...
//   modelreg --actor seed export fraud -o full.tar       (also --compression gzip: full.tar.gz)
//   modelreg --actor seed export fraud -o one_version.tar --version 2
// and no_artifact.tar from a model of one version without an artifact.

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "fuzz_harness.hpp"
#include "modelreg/model_archive.hpp"
#include "modelreg/model_registry.hpp"

namespace {

using modelreg::fuzz::fail;

// The file each input is written to, in a directory of its own, removed when the process exits
// normally.
class InputFile {
 public:
  InputFile() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/modelreg-fuzz-import-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp failed");
    dir_ = pattern;
    path_ = dir_ / "input.tar";
  }
  ~InputFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::filesystem::path& write(const std::uint8_t* data, std::size_t size) {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot open the input file");
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd, data + done, size - done);
      if (n <= 0) fail("cannot write the input file");
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return path_;
  }

 private:
  std::filesystem::path dir_;
  std::filesystem::path path_;
};

// Runs `body`; false if it throws one of import_model's documented errors of a bad archive.
template <class Body>
bool imports(Body&& body) {
  try {
    body();
    return true;
  } catch (const modelreg::StorageError& e) {
    std::fprintf(stderr, "StorageError: %s\n", e.what());
    fail("import_model reported an I/O error with no I/O failing");
  } catch (const modelreg::Error&) {
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    fail("import_model threw an undocumented exception");
  }
}

InputFile* input_file = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  static InputFile file;
  input_file = &file;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path& path = input_file->write(data, size);
  modelreg::ModelRegistry registry;
  modelreg::ImportReport report;
  if (!imports([&] { report = modelreg::import_model(registry, path); })) {
    if (!registry.list_models().empty()) fail("a failed import left a model behind");
    return 0;
  }
  const auto model = registry.get_model(report.model_name);
  if (!model || model->versions.size() != report.versions) {
    fail("an imported model does not have the versions its report counts");
  }
  if (report.versions > 0 && imports([&] { modelreg::import_model(registry, path); })) {
    fail("the same archive was imported twice");
  }
  if (registry.get_model(report.model_name) != model) fail("a refused import changed the model");
  return 0;
}
