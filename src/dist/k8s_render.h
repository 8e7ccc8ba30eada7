// `stampede k8s render`: turns one StampedeTest document (TEST.yaml, see
// docs/kubernetes.md) into the Kubernetes manifests of a distributed run:
//
//   ConfigMap  <name>-test         the script and the files it opens
//   Secret     <name>-token        the shared token (unless spec.token.secretName)
//   Service    <name>-coordinator  headless, port 6565, so agents resolve the coordinator
//   Job        <name>-coordinator  `stampede coordinator SCRIPT --agents N ...`
//   Job        <name>-agents       Indexed, N pods of `stampede agent --coordinator ...`
//
// Kubernetes is the engine: nothing here talks to a cluster. Parsing is
// strict — an unknown field, a bad value or a missing file throws
// core::ConfigError with one line that names the field path, the value and
// the fix. Rendering is deterministic for a given document, file contents and
// token (RenderOptions). Cold path, any thread; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stampede::dist {

inline constexpr int kCoordinatorPort = 6565;
// A ConfigMap holds at most 1 MiB (the API server's limit on its data).
inline constexpr size_t kMaxConfigMapBytes = 1024 * 1024;
// Where the coordinator's working directory and the test's files are.
inline constexpr std::string_view kTestDir = "/stampede/test";

using StringPairs = std::vector<std::pair<std::string, std::string>>;

struct Toleration {
  std::string key;
  std::string op;  // "Exists" or "Equal" ("" = Kubernetes' default, Equal)
  std::string value;
  std::string effect;  // "", NoSchedule, PreferNoSchedule or NoExecute
  std::optional<int64_t> toleration_seconds;
};

// Where and how big a pod is: passed through to the pod spec unchanged.
struct PodPlacement {
  StringPairs limits;         // resource name → quantity, as written ("500m", "1Gi")
  StringPairs requests;       // resource name → quantity
  StringPairs node_selector;  // label key → value, as written
  std::vector<Toleration> tolerations;
  std::string service_account_name;  // coordinator only; "" = the namespace's default
};

// spec.observability.openTelemetry, with the Locust Kubernetes operator's
// fields and meaning (enabled, endpoint, protocol, insecure, extraEnvVars).
struct OpenTelemetrySpec {
  bool enabled = false;
  std::string endpoint;           // required when enabled
  std::string protocol = "grpc";  // "grpc" or "http/protobuf"
  bool insecure = false;
  StringPairs extra_env_vars;  // sorted by name
};

struct TestFile {
  std::string path;     // relative to the test's folder, normalized ("data/users.csv")
  std::string key;      // the ConfigMap key that holds it
  std::string content;  // the bytes
  bool binary = false;  // not printable UTF-8: goes to binaryData
};

// A parsed and validated StampedeTest (apiVersion stampede.dev/v1alpha1).
struct StampedeTest {
  std::string name;
  std::string namespace_name;   // "" = kubectl's current namespace
  std::string script;           // relative path, as in `files`
  std::vector<TestFile> files;  // the script first, then spec.files in order
  int agents = 0;
  std::string image;
  std::string image_pull_policy;  // "" = Kubernetes' default
  std::vector<std::string> args;  // the coordinator's extra flags
  StringPairs env;                // every pod; sorted by name
  std::string token_secret_name;  // "" = render a Secret
  std::string token_secret_key = "token";
  PodPlacement coordinator;
  PodPlacement agent;
  std::optional<int64_t> active_deadline_seconds;
  OpenTelemetrySpec open_telemetry;
};

// Parses `yaml` (one StampedeTest document). Relative file paths resolve
// against `base_dir`, whose files are read. `source` names the document in
// messages ("deploy/k8s/test.yaml"). Throws core::ConfigError.
StampedeTest ParseStampedeTest(std::string_view yaml, const std::filesystem::path& base_dir,
                               const std::string& source);

// Reads and parses TEST.yaml; its folder is the base for relative paths.
StampedeTest LoadStampedeTest(const std::filesystem::path& test_yaml);

// The variables the openTelemetry block sets, in the order they are rendered:
// nothing when disabled; otherwise OTEL_TRACES_EXPORTER=otlp,
// OTEL_METRICS_EXPORTER=otlp (what makes stampede export without --otel),
// OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL,
// OTEL_EXPORTER_OTLP_INSECURE=true (only when insecure), then extraEnvVars
// sorted by name; an extraEnvVars entry replaces the generated one of the
// same name.
StringPairs OpenTelemetryEnvironment(const OpenTelemetrySpec& otel);

enum class PodRole { kCoordinator, kAgent };

// A pod's plain-valued variables, in rendered order: spec.env, then the
// openTelemetry block's. Agents also get OTEL_RESOURCE_ATTRIBUTES with
// `service.instance.id=$(JOB_COMPLETION_INDEX)` appended to any the user gave
// (Kubernetes expands $(JOB_COMPLETION_INDEX), which the agent's env defines
// first). Not included: STAMPEDE_TOKEN and JOB_COMPLETION_INDEX, which come
// from a Secret and from the pod's index annotation.
StringPairs PodEnvironment(const StampedeTest& test, PodRole role);

struct RenderOptions {
  // The token written into the rendered Secret. "" = 32 random hex digits,
  // from the OS, or from `token_seed` when set (tests).
  std::string token;
  std::optional<uint64_t> token_seed;
};

// The manifests as multi-document YAML, in apply order. Throws
// core::ConfigError when options.token conflicts with spec.token.secretName
// or is not a usable token.
std::string RenderManifests(const StampedeTest& test, const RenderOptions& options);

// Helpers exposed for tests.
// True when `bytes` is valid UTF-8 made only of characters YAML may carry
// in a string (printable, tab, CR, LF).
bool IsPrintableUtf8(std::string_view bytes);

}  // namespace stampede::dist
