// Test support: start the project's test servers (real nginx through
// nginx_conf.py, the fault-injection server) as child processes on loopback
// and wait for their readiness line — never a fixed sleep. The servers are
// stopped (SIGTERM, then SIGKILL) when the object is destroyed.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace stampede::testing {

class ChildProcess {
 public:
  // Spawns argv[0] (PATH lookup) with stdout on a pipe. Throws on failure.
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads one line of the child's stdout, waiting at most `timeout_ms`.
  // Throws if the child exits or the time runs out first.
  std::string ReadLine(int timeout_ms);
  pid_t pid() const { return pid_; }
  void Stop();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
};

// The repository's tests/support directory (from the build's definition).
std::string SupportDir();

// tests/support/fault_server.py on 127.0.0.1, ephemeral port.
class FaultServer {
 public:
  explicit FaultServer(const std::vector<std::string>& extra_args = {});
  int port() const { return port_; }
  std::string Url(const std::string& path) const;

 private:
  ChildProcess process_;
  int port_ = 0;
};

// A real nginx (tests/support/nginx_conf.py run) with HTTP and HTTPS servers.
class NginxServer {
 public:
  NginxServer();
  int port() const { return std::stoi(vars_.at("NGINX_PORT")); }
  int https_port() const { return std::stoi(vars_.at("NGINX_HTTPS_PORT")); }
  std::string url() const { return vars_.at("NGINX_URL"); }
  std::string https_url() const { return vars_.at("NGINX_HTTPS_URL"); }
  std::string ca_cert() const { return vars_.at("NGINX_CA_CERT"); }

 private:
  ChildProcess process_;
  std::map<std::string, std::string> vars_;
};

// A loopback TCP port that nothing listens on (bound, then closed).
int UnusedPort();

}  // namespace stampede::testing
