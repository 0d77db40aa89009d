#include <CLI/CLI.hpp>
int main(int argc, char** argv) {
  CLI::App app{"satchel"};
  app.set_version_flag("--version", std::string("satchel ") + SATCHEL_VERSION);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
