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


// tests/support/otlp_sink.js (Node) on 127.0.0.1: an OTLP trace receiver over
// HTTP (/v1/traces, protobuf or JSON, gzip-aware) and gRPC, which appends one
// JSON line per received span to out_file(). `extra_args` select fault modes
// (--mode 503 --retry-after 1, --mode 400, --fault-count N, ...; see the
// script). Runs `npm ci` in tests/support first when node_modules is missing
// (EnsureNodeModules). Waits for the readiness line; throws on failure.
class OtlpSink {
 public:
  explicit OtlpSink(const std::vector<std::string>& extra_args = {});
  ~OtlpSink();
  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  // http://127.0.0.1:PORT/v1/traces
  std::string http_traces_url() const;
  // http://127.0.0.1:GRPC_PORT (an OTEL_EXPORTER_OTLP_ENDPOINT for grpc)
  std::string grpc_endpoint() const;
  const std::string& out_file() const { return out_file_; }
  // The span lines written so far.
  std::vector<std::string> Lines() const;
  // Waits (polling, bounded by timeout_ms) until at least `n` span lines are
  // written; returns them. Throws when the time runs out.
  std::vector<std::string> WaitForLines(size_t n, int timeout_ms) const;
  // GET /__stats: {"requests":{"200":n,...},"grpc":{"0":n,...},"spans":n,...}
  std::string Stats() const;
  void Stop() { process_.Stop(); }

 private:
  std::string out_file_;
  ChildProcess process_;
  int http_port_ = 0;
  int grpc_port_ = 0;
};

// Runs `npm ci --prefix tests/support` once when tests/support/node_modules is
// missing (serialised across test processes with a lock file). Throws if npm
// fails.
void EnsureNodeModules();

}  // namespace stampede::testing
