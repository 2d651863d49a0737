// --help of every subcommand, --version, the bash completion (printed and installed), and the
// progress bar that only a terminal sees.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "cli_runner.hpp"

namespace modelreg::cli_testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Every command path of the tool (docs/cli.md).
const std::vector<std::vector<std::string>> kCommands{{"list"},
                                                      {"show"},
                                                      {"register"},
                                                      {"promote"},
                                                      {"alias"},
                                                      {"alias", "set"},
                                                      {"alias", "delete"},
                                                      {"alias", "show"},
                                                      {"tag"},
                                                      {"tag", "set"},
                                                      {"tag", "delete"},
                                                      {"describe"},
                                                      {"search"},
                                                      {"history"},
                                                      {"get"},
                                                      {"delete"},
                                                      {"watch"},
                                                      {"export"},
                                                      {"import"},
                                                      {"verify"},
                                                      {"gc"},
                                                      {"completion"},
                                                      {"completion", "bash"}};

using CliHelpTest = CliTest;

TEST_F(CliHelpTest, EverySubcommandHasHelpWithAnExample) {
  for (auto args : kCommands) {
    args.push_back("--help");
    const RunResult result = run_cli(args, SpawnOptions{});
    EXPECT_EQ(result.exit_code, 0) << args[0] << ": " << result;
    EXPECT_THAT(result.out, HasSubstr("Example")) << args[0];
    EXPECT_THAT(result.out, HasSubstr("modelreg " + args[0])) << args[0];
  }
  const RunResult top = run_cli({"--help"}, SpawnOptions{});
  EXPECT_EQ(top.exit_code, 0);
  for (const auto& command : kCommands) EXPECT_THAT(top.out, HasSubstr(command[0]));
}

TEST_F(CliHelpTest, Version) {
  const RunResult result = run_cli({"--version"}, SpawnOptions{});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("modelreg 0."));
}

// Sources the completion script in bash and returns what it offers for `line` (whose last
// word is the one being completed), one line.
std::string complete(const std::filesystem::path& script, const std::string& line) {
  const auto program = script.parent_path() / "complete.sh";
  std::ofstream(program) << "source '" << script.string() << "'\n"
                         << "COMP_WORDS=(" << line << ")\n"
                         << "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
                         << "_modelreg\n"
                         << "echo \"${COMPREPLY[*]}\"\n";
  std::string output;
  FILE* pipe = ::popen(("bash '" + program.string() + "'").c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run bash";
    return output;
  }
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    output.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << output;
  return output;
}

TEST_F(CliHelpTest, BashCompletionKnowsEverySubcommandAndOption) {
  const RunResult result = run_cli({"completion", "bash"}, SpawnOptions{});
  ASSERT_EQ(result.exit_code, 0) << result;
  for (const auto& command : kCommands) {
    std::string path;
    for (const auto& word : command) path += " " + word;
    EXPECT_THAT(result.out, HasSubstr("\"" + path + "\"")) << path;
  }
  EXPECT_THAT(result.out, HasSubstr("complete -o default -F _modelreg modelreg"));
  const auto script = dir() / "modelreg.bash";
  std::ofstream(script) << result.out;
  EXPECT_EQ(complete(script, "modelreg al"), "alias\n");
  EXPECT_EQ(complete(script, "modelreg alias s"), "set show\n");
  EXPECT_EQ(complete(script, "modelreg --json promote fraud 3 production --expect"),
            "--expect-stage\n");
  EXPECT_EQ(complete(script, "modelreg promote --expect-stage p"), "production\n");
  EXPECT_EQ(complete(script, "modelreg register --fr"), "--framework\n");
}

TEST_F(CliHelpTest, TheInstalledCompletionIsTheGeneratedOne) {
  const RunResult result = run_cli({"completion", "bash"}, SpawnOptions{});
  ASSERT_EQ(result.exit_code, 0);
  EXPECT_EQ(testing::read_file(MODELREG_CLI_COMPLETION_PATH), result.out);
}

TEST_F(CliHelpTest, ProgressBarOnlyWhenStderrIsATerminal) {
  const auto big = make_file("big.bin", (8u << 20) + 1);
  const RunResult tty = run_cli({"register", "fraud", "1", "--artifact", big.string()},
                                SpawnOptions{registry(), true});
  EXPECT_EQ(tty.exit_code, 0) << tty;
  EXPECT_THAT(tty.err, HasSubstr("register fraud:1 ["));
  EXPECT_THAT(tty.err, HasSubstr("100%"));

  const RunResult get_tty = run_cli({"get", "models:/fraud/1", "-o", (dir() / "out.bin").string()},
                                    SpawnOptions{registry(), true});
  EXPECT_EQ(get_tty.exit_code, 0) << get_tty;
  EXPECT_THAT(get_tty.err, HasSubstr("100%"));
  EXPECT_EQ(testing::read_file(dir() / "out.bin"), testing::read_file(big));
  for (const auto& entry : std::filesystem::directory_iterator(dir())) {
    EXPECT_EQ(entry.path().filename().string().find(".modelreg-"), std::string::npos)
        << "temporary file left behind: " << entry.path();
  }

  // Not on a pipe, and never with --quiet or --json.
  const RunResult piped = run({"register", "fraud", "2", "--artifact", big.string()});
  EXPECT_EQ(piped.exit_code, 0);
  EXPECT_EQ(piped.err, "");
  for (const char* flag : {"--quiet", "--json"}) {
    const RunResult quiet =
        run_cli({flag, "get", "models:/fraud/1", "-o", (dir() / "q.bin").string()},
                SpawnOptions{registry(), true});
    EXPECT_EQ(quiet.exit_code, 0);
    EXPECT_THAT(quiet.err, Not(HasSubstr("%"))) << flag;
  }
  // A small artifact shows none either.
  const auto small = make_file("small.bin", 1000);
  const RunResult small_tty = run_cli({"register", "fraud", "3", "--artifact", small.string()},
                                      SpawnOptions{registry(), true});
  EXPECT_EQ(small_tty.exit_code, 0);
  EXPECT_EQ(small_tty.err, "");
}

}  // namespace
}  // namespace modelreg::cli_testing
