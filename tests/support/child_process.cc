#include "child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace stampede::testing {

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], STDOUT_FILENO);
    setpgid(0, 0);  // its own group: Stop() reaches nginx's workers too
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  out_fd_ = fds[0];
}

ChildProcess::~ChildProcess() { Stop(); }

void ChildProcess::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    // Bounded wait for a clean exit (the nginx wrapper removes its files).
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      poll(nullptr, 0, 50);
    }
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  if (out_fd_ >= 0) {
    close(out_fd_);
    out_fd_ = -1;
  }
}

std::string ChildProcess::ReadLine(int timeout_ms) {
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    pollfd p{out_fd_, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) throw std::runtime_error("child process: no output line in time");
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("child process exited before printing a line");
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::string SupportDir() { return STAMPEDE_TEST_SUPPORT_DIR; }

FaultServer::FaultServer(const std::vector<std::string>& extra_args)
    : process_([&] {
        std::vector<std::string> argv{"python3", SupportDir() + "/fault_server.py",
                                      "--max-seconds", "300"};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        return argv;
      }()) {
  std::string line = process_.ReadLine(20000);
  const std::string prefix = "listening on ";
  if (line.rfind(prefix, 0) != 0) throw std::runtime_error("fault server said: " + line);
  port_ = std::stoi(line.substr(prefix.size()));
}

std::string FaultServer::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

NginxServer::NginxServer()
    : process_({"python3", SupportDir() + "/nginx_conf.py", "run", "--max-seconds", "600"}) {
  // `run` prints NAME=value lines once nginx answers, ending with the CA cert.
  while (vars_.count("NGINX_CA_CERT") == 0 || vars_.count("NGINX_HTTPS_URL") == 0) {
    std::string line = process_.ReadLine(60000);
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"')) {
      value = value.substr(1, value.size() - 2);
    }
    vars_[line.substr(0, eq)] = value;
  }
}

int UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace stampede::testing

// ---- OtlpSink (tests/support/otlp_sink.js) ----

#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace stampede::testing {
namespace {

std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    throw std::runtime_error("write failed");
  }
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t body = resp.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : resp.substr(body + 4);
}

std::string MakeTempFile() {
  char name[] = "/tmp/stampede-otlp-sink-XXXXXX.jsonl";
  int fd = mkstemps(name, 6);
  if (fd < 0) throw std::runtime_error("mkstemps failed");
  close(fd);
  return name;
}

}  // namespace

void EnsureNodeModules() {
  const std::string dir = SupportDir();
  struct stat st;
  auto present = [&] { return stat((dir + "/node_modules/@grpc/grpc-js").c_str(), &st) == 0; };
  if (present()) return;
  // Serialise concurrent test processes (ctest -j) on one lock file.
  int lock = open("/tmp/stampede-tests-support-npm.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock >= 0) flock(lock, LOCK_EX);
  if (!present()) {
    std::string cmd = "npm ci --prefix '" + dir + "' --no-audit --no-fund --loglevel=error >&2";
    int rc = std::system(cmd.c_str());
    if (rc != 0) {
      if (lock >= 0) close(lock);
      throw std::runtime_error("`" + cmd + "` failed (exit " + std::to_string(rc) + ")");
    }
  }
  if (lock >= 0) close(lock);  // releases the flock
}

OtlpSink::OtlpSink(const std::vector<std::string>& extra_args)
    : out_file_(MakeTempFile()),
      process_([&] {
        EnsureNodeModules();
        std::vector<std::string> argv{"node", SupportDir() + "/otlp_sink.js", "--out", out_file_,
                                      "--max-seconds", "300"};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        return argv;
      }()) {
  // "listening http PORT grpc PORT"
  std::string line = process_.ReadLine(60000);
  std::istringstream in(line);
  std::string w1, w2, w3;
  in >> w1 >> w2 >> http_port_ >> w3 >> grpc_port_;
  if (w1 != "listening" || w2 != "http" || w3 != "grpc" || http_port_ <= 0 || grpc_port_ <= 0) {
    throw std::runtime_error("otlp sink said: " + line);
  }
}

OtlpSink::~OtlpSink() {
  process_.Stop();
  unlink(out_file_.c_str());
}

std::string OtlpSink::http_traces_url() const {
  return "http://127.0.0.1:" + std::to_string(http_port_) + "/v1/traces";
}

std::string OtlpSink::grpc_endpoint() const {
  return "http://127.0.0.1:" + std::to_string(grpc_port_);
}

std::vector<std::string> OtlpSink::Lines() const {
  std::vector<std::string> lines;
  std::ifstream f(out_file_);
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> OtlpSink::WaitForLines(size_t n, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    std::vector<std::string> lines = Lines();
    if (lines.size() >= n) return lines;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error("otlp sink: " + std::to_string(lines.size()) + " of " +
                               std::to_string(n) + " span lines in time");
    }
    poll(nullptr, 0, 20);  // re-check the file: a bounded wait for a condition
  }
}

std::string OtlpSink::Stats() const { return HttpGet(http_port_, "/__stats"); }

}  // namespace stampede::testing
