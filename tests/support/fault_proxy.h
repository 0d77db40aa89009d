// TEST ONLY. The fault-injecting proxy (tests/support/fault_proxy.py) as a child process, for
// Catch2 tests: started with the proxy's arguments, it reads the port the proxy listens on; its
// --stats file is read as numbers. Needs SATCHEL_SOURCE_DIR (the repository's root).
#pragma once

#include <catch2/catch_test_macros.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace satchel::testing {

class FaultProxy {
 public:
  explicit FaultProxy(std::vector<std::string> args) {
    static int counter = 0;
    int out[2];
    REQUIRE(::pipe(out) == 0);
    stats_ =
        (std::filesystem::temp_directory_path() / ("satchel-proxy-" + std::to_string(::getpid()) +
                                                   "-" + std::to_string(counter++) + ".stats"))
            .string();
    args.insert(args.begin(),
                {"python3", std::string(SATCHEL_SOURCE_DIR) + "/tests/support/fault_proxy.py",
                 "--stats", stats_});
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("python3", argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    FILE* f = ::fdopen(out[0], "r");
    REQUIRE(f != nullptr);
    out_ = f;
    char line[64] = {};
    REQUIRE(std::fgets(line, sizeof line, f) != nullptr);
    REQUIRE(std::sscanf(line, "port %hu", &port_) == 1);
  }
  ~FaultProxy() {
    stop();
    if (out_) std::fclose(out_);
    std::filesystem::remove(stats_);
  }
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const { return port_; }
  // "bytes_up N bytes_down N connections N faults N" as numbers (written at each close).
  std::map<std::string, uint64_t> stats() const {
    std::map<std::string, uint64_t> m;
    std::ifstream in(stats_);
    std::string k;
    uint64_t v;
    while (in >> k >> v) m[k] = v;
    return m;
  }
  // SIGTERM, and waits for the proxy to exit: open connections are cut, and stats() are final
  // (no connection still to be counted). Returns the proxy's exit status (0: a clean exit).
  int stop() {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    exit_status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return exit_status_;
  }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  uint16_t port_ = 0;
  FILE* out_ = nullptr;
  std::string stats_;
};

}  // namespace satchel::testing
