// `stampede k8s render TEST.yaml [-o FILE] [--token T]`: writes the
// Kubernetes manifests of a distributed run (dist/k8s_render.h) for one
// StampedeTest document, to stdout or to FILE. Errors (a bad field, a missing
// file, an unwritable output) throw core::ConfigError for main's one line.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace stampede::cli {

struct K8sFlags {
  std::string test_yaml;  // the StampedeTest document
  std::string output;     // "" or "-" → stdout
  std::string token;      // "" → a random token in the rendered Secret
};

// Adds `k8s` with its `render` subcommand; returns `render`.
CLI::App* AddK8sCommand(CLI::App& app, K8sFlags& flags);
int K8sRenderCommand(const K8sFlags& flags);

}  // namespace stampede::cli
