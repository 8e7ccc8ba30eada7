#include "cli/k8s_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "dist/k8s_render.h"

namespace stampede::cli {

CLI::App* AddK8sCommand(CLI::App& app, K8sFlags& f) {
  CLI::App* k8s = app.add_subcommand("k8s", "Run a test distributed on Kubernetes");
  k8s->require_subcommand(1);
  CLI::App* render = k8s->add_subcommand(
      "render",
      "Write the manifests (ConfigMap, Secret, Service, coordinator and agent Jobs) of a "
      "StampedeTest document; apply them with `kubectl apply -f -` (docs/kubernetes.md)");
  render->add_option("test", f.test_yaml, "The StampedeTest YAML (e.g. deploy/k8s/test.yaml)")
      ->required();
  render->add_option("-o,--output", f.output, "Write the manifests to FILE (default: stdout)");
  render->add_option("--token", f.token,
                     "The shared token to put in the rendered Secret (default: 32 random hex "
                     "digits; re-rendering makes a new one)");
  return render;
}

int K8sRenderCommand(const K8sFlags& f) {
  const dist::StampedeTest test = dist::LoadStampedeTest(f.test_yaml);
  dist::RenderOptions options;
  options.token = f.token;
  const std::string yaml = dist::RenderManifests(test, options);
  if (f.output.empty() || f.output == "-") {
    std::fwrite(yaml.data(), 1, yaml.size(), stdout);
    std::fflush(stdout);
    return 0;
  }
  const std::filesystem::path out = f.output;
  const std::filesystem::path tmp = out.string() + ".tmp";
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    file.write(yaml.data(), static_cast<std::streamsize>(yaml.size()));
    file.close();
    if (!file) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw core::ConfigError("cannot write the manifests to " + out.string() +
                              ": check that its directory exists and is writable (-o FILE)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw core::ConfigError("cannot write the manifests to " + out.string() + ": " + ec.message());
  }
  return 0;
}

}  // namespace stampede::cli
