// The `layersift rules` subcommands: list, check, eval, profile and export.
#ifndef LAYERSIFT_TOOLS_RULE_COMMANDS_H_
#define LAYERSIFT_TOOLS_RULE_COMMANDS_H_

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "rule_flags.h"

namespace layersift {

class RuleCommands {
 public:
  // Adds `rules` and its subcommands to `app`.
  void AddTo(CLI::App& app);
  // Runs the subcommand that was parsed; returns the exit code, or -1 if none of ours ran.
  int Run();

 private:
  int List();
  int Check();
  int Eval();
  int Profile();
  int Export();

  CLI::App* list_ = nullptr;
  CLI::App* check_ = nullptr;
  CLI::App* eval_ = nullptr;
  CLI::App* profile_ = nullptr;
  CLI::App* export_ = nullptr;
  RuleFlags list_flags_, check_flags_, eval_flags_, profile_flags_, export_flags_;
  std::string list_format_ = "text";
  std::vector<std::string> check_files_;
  bool check_both_engines_ = true;
  std::vector<std::string> eval_files_;
  std::string eval_format_ = "text";
  std::vector<std::string> profile_targets_;
  std::string profile_format_ = "text";
  unsigned profile_threads_ = 0;
  bool profile_no_default_excludes_ = false;
  std::string export_format_ = "rg";
  std::string export_output_;
};

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_RULE_COMMANDS_H_
