#include "dist/k8s_render.h"

#include <sys/random.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "core/base64.h"
#include "core/error.h"
#include "core/quote.h"
#include "core/rng.h"

namespace stampede::dist {
namespace {

using core::ConfigError;
using core::QuoteInput;

constexpr int kMaxAgents = 1000;
// "<name>-coordinator" must stay a 63-character DNS label.
constexpr size_t kMaxNameLength = 63 - 12;
constexpr int64_t kMaxDeadlineSeconds = 2147483647;

const std::regex kDnsLabelStartingWithLetter("[a-z]([-a-z0-9]*[a-z0-9])?");
const std::regex kDnsLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
const std::regex kDnsSubdomain("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
const std::regex kSecretKey("[-._a-zA-Z0-9]+");
// A label (or resource) name, optionally with a DNS-subdomain prefix.
const std::regex kQualifiedName(
    "([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    "[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");
const std::regex kLabelValue("([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?");
// Kubernetes' resource.Quantity: a decimal number with an optional binary
// (Ki..Ei), decimal (n u m k M G T P E) or exponent suffix.
const std::regex kQuantity(
    "[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?");

// ---------------------------------------------------------------------------
// Parsing

// One bad input → one line: "<source>:<line>: invalid <path> <value>: <fix>".
class Parser {
 public:
  Parser(const std::filesystem::path& base_dir, std::string source)
      : base_dir_(base_dir), source_(std::move(source)) {}

  StampedeTest Parse(const YAML::Node& root);

 private:
  [[noreturn]] void Fail(const YAML::Node& at, const std::string& message) const {
    std::string where = source_;
    if (at.IsDefined() && at.Mark().line >= 0) where += ":" + std::to_string(at.Mark().line + 1);
    throw ConfigError(where + ": " + message);
  }
  [[noreturn]] void Invalid(const YAML::Node& at, const std::string& path,
                            const std::string& fix) const {
    std::string shown = at.IsScalar() ? QuoteInput(at.Scalar()) : std::string(KindName(at));
    Fail(at,
         "invalid " + (path.empty() ? std::string("document") : path) + " " + shown + ": " + fix);
  }
  static const char* KindName(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Map:
        return "(a mapping)";
      case YAML::NodeType::Sequence:
        return "(a list)";
      case YAML::NodeType::Null:
        return "(empty)";
      default:
        return "(a value)";
    }
  }

  // The fields of mapping `node` at `path`, in document order; a field not in
  // `allowed` (or given twice) is an error that lists the allowed ones.
  std::vector<std::pair<std::string, YAML::Node>> Fields(
      const YAML::Node& node, const std::string& path,
      std::initializer_list<const char*> allowed) const {
    if (!node.IsMap()) Invalid(node, path, "expected a mapping of " + Join(allowed));
    std::vector<std::pair<std::string, YAML::Node>> out;
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const std::string child = path.empty() ? key : path + "." + key;
      if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) ==
          allowed.end()) {
        Fail(kv.first, "unknown field " + child + ": " + (path.empty() ? "a StampedeTest" : path) +
                           " takes " + Join(allowed) + " (see docs/kubernetes.md)");
      }
      if (!seen.insert(key).second) Fail(kv.first, child + " is given twice: keep one");
      out.emplace_back(key, kv.second);
    }
    return out;
  }
  // Map entries with arbitrary scalar keys (env, nodeSelector, ...).
  std::vector<std::tuple<std::string, YAML::Node, YAML::Node>> Entries(
      const YAML::Node& node, const std::string& path, const std::string& what) const {
    if (!node.IsMap()) Invalid(node, path, "expected a mapping of " + what);
    std::vector<std::tuple<std::string, YAML::Node, YAML::Node>> out;
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) Invalid(kv.first, path, "keys must be plain strings");
      const std::string& key = kv.first.Scalar();
      if (!seen.insert(key).second) Fail(kv.first, path + "." + key + " is given twice: keep one");
      out.emplace_back(key, kv.first, kv.second);
    }
    return out;
  }
  static std::string Join(std::initializer_list<const char*> names) {
    std::string out;
    for (const char* n : names) {
      if (!out.empty()) out += ", ";
      out += n;
    }
    return out;
  }

  std::string String(const YAML::Node& n, const std::string& path) const {
    if (n.IsNull()) return std::string();
    if (!n.IsScalar()) Invalid(n, path, "expected a string");
    if (!IsPrintableUtf8(n.Scalar())) {
      Invalid(n, path, "control characters and invalid UTF-8 cannot go into a manifest");
    }
    return n.Scalar();
  }
  std::string NonEmpty(const YAML::Node& n, const std::string& path, const std::string& fix) const {
    std::string s = String(n, path);
    if (s.empty()) Invalid(n, path, fix);
    return s;
  }
  bool Bool(const YAML::Node& n, const std::string& path) const {
    if (n.IsScalar()) {
      std::string v = n.Scalar();
      std::transform(v.begin(), v.end(), v.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (v == "true") return true;
      if (v == "false") return false;
    }
    Invalid(n, path, "give true or false");
  }
  int64_t Integer(const YAML::Node& n, const std::string& path, int64_t min, int64_t max) const {
    const std::string range =
        "give a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    if (!n.IsScalar()) Invalid(n, path, range);
    const std::string& s = n.Scalar();
    if (s.empty() || s.size() > 18 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      Invalid(n, path, range);
    }
    int64_t v = std::stoll(s);
    if (v < min || v > max) Invalid(n, path, range);
    return v;
  }
  void Match(const YAML::Node& n, const std::string& path, const std::string& value,
             const std::regex& re, const std::string& fix) const {
    if (!std::regex_match(value, re)) Invalid(n, path, fix);
  }

  std::string RelativePath(const YAML::Node& n, const std::string& path) const;
  void AddFile(const YAML::Node& n, const std::string& path, const std::string& rel,
               StampedeTest& test) const;
  void ParseMetadata(const YAML::Node& n, StampedeTest& test) const;
  void ParseSpec(const YAML::Node& n, StampedeTest& test) const;
  StringPairs ParseEnvMap(const YAML::Node& n, const std::string& path) const;
  PodPlacement ParsePlacement(const YAML::Node& n, const std::string& path, bool coordinator) const;
  StringPairs ParseQuantities(const YAML::Node& n, const std::string& path) const;
  std::vector<Toleration> ParseTolerations(const YAML::Node& n, const std::string& path) const;
  OpenTelemetrySpec ParseOpenTelemetry(const YAML::Node& n, const std::string& path) const;

  std::filesystem::path base_dir_;
  std::string source_;
};

StampedeTest Parser::Parse(const YAML::Node& root) {
  StampedeTest test;
  bool have_metadata = false, have_spec = false;
  std::string api_version, kind;
  for (const auto& [key, value] : Fields(root, "", {"apiVersion", "kind", "metadata", "spec"})) {
    if (key == "apiVersion") {
      api_version = String(value, "apiVersion");
      if (api_version != "stampede.dev/v1alpha1") {
        Invalid(value, "apiVersion", "give stampede.dev/v1alpha1");
      }
    } else if (key == "kind") {
      kind = String(value, "kind");
      if (kind != "StampedeTest") Invalid(value, "kind", "give StampedeTest");
    } else if (key == "metadata") {
      ParseMetadata(value, test);
      have_metadata = true;
    } else {
      ParseSpec(value, test);
      have_spec = true;
    }
  }
  if (api_version.empty()) Fail(root, "missing apiVersion: give stampede.dev/v1alpha1");
  if (kind.empty()) Fail(root, "missing kind: give StampedeTest");
  if (!have_metadata) Fail(root, "missing metadata: give metadata.name, e.g. shop-load");
  if (!have_spec) Fail(root, "missing spec: give at least spec.script, spec.agents and spec.image");
  return test;
}

void Parser::ParseMetadata(const YAML::Node& n, StampedeTest& test) const {
  for (const auto& [key, value] : Fields(n, "metadata", {"name", "namespace"})) {
    if (key == "name") {
      test.name = NonEmpty(value, "metadata.name", "give a name such as shop-load");
      if (test.name.size() > kMaxNameLength ||
          !std::regex_match(test.name, kDnsLabelStartingWithLetter)) {
        Invalid(value, "metadata.name",
                "give lowercase letters, digits and '-', starting with a letter, at most " +
                    std::to_string(kMaxNameLength) +
                    " characters (it names the Service <name>-coordinator)");
      }
    } else {
      test.namespace_name = String(value, "metadata.namespace");
      if (test.namespace_name.size() > 63 || !std::regex_match(test.namespace_name, kDnsLabel)) {
        Invalid(value, "metadata.namespace",
                "give a namespace name (lowercase letters, digits and '-', at most 63 characters) "
                "or leave it out for kubectl's current namespace");
      }
    }
  }
  if (test.name.empty()) Fail(n, "missing metadata.name: give a name such as shop-load");
}

std::string Parser::RelativePath(const YAML::Node& n, const std::string& path) const {
  const std::string raw = NonEmpty(n, path, "give a file path relative to the test's folder");
  std::filesystem::path p(raw);
  if (p.is_absolute()) {
    Invalid(n, path,
            "give a path relative to the folder of " + source_ + " (the files are mounted below " +
                std::string(kTestDir) + ")");
  }
  std::filesystem::path norm = p.lexically_normal();
  const std::string s = norm.generic_string();
  if (s.empty() || s == "." || s.back() == '/') Invalid(n, path, "give a file, not a folder");
  for (const auto& part : norm) {
    if (part == "..") {
      Invalid(n, path,
              "the path leaves the folder of " + source_ +
                  "; move the file beside it (only that folder is mounted, below " +
                  std::string(kTestDir) + ")");
    }
  }
  return s;
}

void Parser::AddFile(const YAML::Node& n, const std::string& path, const std::string& rel,
                     StampedeTest& test) const {
  for (const TestFile& f : test.files) {
    if (f.path == rel) Invalid(n, path, "this file is already listed; give each file once");
  }
  const std::filesystem::path full = base_dir_ / rel;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(full, ec)) {
    Fail(n, path + ": " + QuoteInput(rel) + " does not exist (looked for " + full.string() +
                "); paths are relative to the folder of " + source_);
  }
  std::ifstream in(full, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in && !in.eof()) Fail(n, path + ": cannot read " + full.string());
  TestFile file;
  file.path = rel;
  file.content = bytes.str();
  file.binary = !IsPrintableUtf8(file.content);
  // ConfigMap keys allow [-._a-zA-Z0-9]; the mount puts each key back at its path.
  std::string key = rel;
  for (char& c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) c = '_';
  }
  std::string unique = key;
  for (int i = 2; std::any_of(test.files.begin(), test.files.end(),
                              [&](const TestFile& f) { return f.key == unique; });
       ++i) {
    unique = key + "." + std::to_string(i);
  }
  file.key = unique;
  test.files.push_back(std::move(file));
}

void Parser::ParseSpec(const YAML::Node& n, StampedeTest& test) const {
  const auto fields =
      Fields(n, "spec",
             {"script", "files", "agents", "image", "imagePullPolicy", "args", "env", "token",
              "coordinator", "agent", "activeDeadlineSeconds", "observability"});
  // The script goes first in the ConfigMap, whatever the field order.
  for (const auto& [key, value] : fields) {
    if (key == "script") {
      test.script = RelativePath(value, "spec.script");
      AddFile(value, "spec.script", test.script, test);
    }
  }
  bool have_agents = false;
  for (const auto& [key, value] : fields) {
    const std::string path = "spec." + key;
    if (key == "script") {
      continue;
    } else if (key == "files") {
      if (value.IsNull()) continue;
      if (!value.IsSequence())
        Invalid(value, path, "expected a list of file paths, e.g. [users.csv]");
      for (size_t i = 0; i < value.size(); ++i) {
        const std::string item = path + "[" + std::to_string(i) + "]";
        AddFile(value[i], item, RelativePath(value[i], item), test);
      }
    } else if (key == "agents") {
      test.agents = static_cast<int>(Integer(value, path, 1, kMaxAgents));
      have_agents = true;
    } else if (key == "image") {
      test.image = NonEmpty(value, path, "give the image that holds stampede, e.g. stampede:0.1.0");
      if (test.image.find_first_of(" \t\r\n") != std::string::npos) {
        Invalid(value, path,
                "an image reference has no spaces, e.g. registry.example/stampede:0.1.0");
      }
    } else if (key == "imagePullPolicy") {
      test.image_pull_policy = String(value, path);
      if (test.image_pull_policy != "Always" && test.image_pull_policy != "IfNotPresent" &&
          test.image_pull_policy != "Never") {
        Invalid(value, path, "give Always, IfNotPresent or Never");
      }
    } else if (key == "args") {
      if (value.IsNull()) continue;
      if (!value.IsSequence()) {
        Invalid(value, path, "expected a list of flags, e.g. [\"-e\", \"BASE=http://shop\"]");
      }
      for (size_t i = 0; i < value.size(); ++i) {
        const std::string item = path + "[" + std::to_string(i) + "]";
        std::string arg = String(value[i], item);
        const std::string flag = arg.substr(0, arg.find('='));
        if (flag == "--agents" || flag == "--listen" || flag == "--token" || flag == "--index" ||
            flag == "--coordinator") {
          Invalid(value[i], item,
                  flag +
                      " is set by the rendered manifests (spec.agents, the Service, the "
                      "token Secret); remove it");
        }
        test.args.push_back(std::move(arg));
      }
    } else if (key == "env") {
      test.env = ParseEnvMap(value, path);
    } else if (key == "token") {
      bool have_key = false;
      for (const auto& [tk, tv] : Fields(value, path, {"secretName", "key"})) {
        if (tk == "secretName") {
          test.token_secret_name = NonEmpty(tv, path + ".secretName", "give a Secret's name");
          Match(tv, path + ".secretName", test.token_secret_name, kDnsSubdomain,
                "give the name of an existing Secret (lowercase letters, digits, '-' and '.')");
        } else {
          test.token_secret_key = NonEmpty(tv, path + ".key", "give the key that holds the token");
          Match(tv, path + ".key", test.token_secret_key, kSecretKey,
                "a Secret key has letters, digits, '-', '_' and '.'");
          have_key = true;
        }
      }
      if (have_key && test.token_secret_name.empty()) {
        Fail(value, "spec.token.key needs spec.token.secretName: name the Secret that holds it");
      }
    } else if (key == "coordinator") {
      test.coordinator = ParsePlacement(value, path, /*coordinator=*/true);
    } else if (key == "agent") {
      test.agent = ParsePlacement(value, path, /*coordinator=*/false);
    } else if (key == "activeDeadlineSeconds") {
      test.active_deadline_seconds = Integer(value, path, 1, kMaxDeadlineSeconds);
    } else if (key == "observability") {
      for (const auto& [ok, ov] : Fields(value, path, {"openTelemetry"})) {
        test.open_telemetry = ParseOpenTelemetry(ov, path + "." + ok);
      }
    }
  }
  if (test.script.empty()) Fail(n, "missing spec.script: give the Lua script, e.g. shop.lua");
  if (!have_agents) Fail(n, "missing spec.agents: give the number of agent pods, 1 to 1000");
  if (test.image.empty()) {
    Fail(n, "missing spec.image: give the image that holds stampede, e.g. stampede:0.1.0");
  }
  // A variable in both spec.env and the openTelemetry block would be
  // ambiguous; OTel-generated variables give way to extraEnvVars only.
  if (test.open_telemetry.enabled) {
    for (const auto& [name, value] : OpenTelemetryEnvironment(test.open_telemetry)) {
      for (const auto& [env_name, env_value] : test.env) {
        if (env_name == name) {
          Fail(n["env"], "spec.env." + name +
                             " is also set by spec.observability.openTelemetry; give it in one "
                             "place (extraEnvVars for OTel variables)");
        }
      }
    }
  }
  size_t total = 0;
  for (const TestFile& f : test.files) total += f.key.size() + f.content.size();
  if (total > kMaxConfigMapBytes) {
    Fail(n, "spec.script and spec.files total " + std::to_string(total) +
                " bytes, over the 1 MiB (1048576 bytes) a ConfigMap holds: keep the test's "
                "files smaller (split or trim the data)");
  }
}

StringPairs Parser::ParseEnvMap(const YAML::Node& n, const std::string& path) const {
  StringPairs out;
  if (n.IsNull()) return out;
  for (const auto& [name, key_node, value] : Entries(n, path, "NAME: value")) {
    if (!std::regex_match(name, kEnvName)) {
      Invalid(key_node, path,
              "a variable name has letters, digits and '_' and does not start with a digit");
    }
    if (name == "STAMPEDE_TOKEN" || name == "JOB_COMPLETION_INDEX") {
      Invalid(key_node, path,
              name + " is set by the rendered manifests (" +
                  (name == "STAMPEDE_TOKEN" ? "use spec.token" : "Kubernetes sets each agent's") +
                  "); remove it");
    }
    out.emplace_back(name, String(value, path + "." + name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

StringPairs Parser::ParseQuantities(const YAML::Node& n, const std::string& path) const {
  StringPairs out;
  if (n.IsNull()) return out;
  for (const auto& [name, key_node, value] : Entries(n, path, "resource: quantity")) {
    if (!std::regex_match(name, kQualifiedName)) {
      Invalid(key_node, path, "give a resource name such as cpu, memory or nvidia.com/gpu");
    }
    const std::string item = path + "." + name;
    std::string q = String(value, item);
    if (!std::regex_match(q, kQuantity)) {
      Invalid(value, item, "give a Kubernetes quantity such as 500m, 2, 512Mi or 1Gi");
    }
    out.emplace_back(name, std::move(q));
  }
  return out;
}

std::vector<Toleration> Parser::ParseTolerations(const YAML::Node& n,
                                                 const std::string& path) const {
  std::vector<Toleration> out;
  if (n.IsNull()) return out;
  if (!n.IsSequence()) Invalid(n, path, "expected a list of tolerations");
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string item = path + "[" + std::to_string(i) + "]";
    Toleration t;
    for (const auto& [key, value] :
         Fields(n[i], item, {"key", "operator", "value", "effect", "tolerationSeconds"})) {
      const std::string field = item + "." + key;
      if (key == "key") {
        t.key = String(value, field);
        if (!t.key.empty()) Match(value, field, t.key, kQualifiedName, "give a taint key");
      } else if (key == "operator") {
        t.op = String(value, field);
        if (t.op != "Exists" && t.op != "Equal") Invalid(value, field, "give Exists or Equal");
      } else if (key == "value") {
        t.value = String(value, field);
        Match(value, field, t.value, kLabelValue, "give a taint value (a label value)");
      } else if (key == "effect") {
        t.effect = String(value, field);
        if (!t.effect.empty() && t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" &&
            t.effect != "NoExecute") {
          Invalid(value, field, "give NoSchedule, PreferNoSchedule or NoExecute");
        }
      } else {
        t.toleration_seconds = Integer(value, field, 0, kMaxDeadlineSeconds);
      }
    }
    if (t.op == "Exists" && !t.value.empty()) {
      Fail(n[i], item + ": operator Exists takes no value; remove value or use Equal");
    }
    if (t.key.empty() && t.op != "Exists") {
      Fail(n[i], item + ": a toleration without a key needs operator: Exists");
    }
    out.push_back(std::move(t));
  }
  return out;
}

PodPlacement Parser::ParsePlacement(const YAML::Node& n, const std::string& path,
                                    bool coordinator) const {
  PodPlacement p;
  if (n.IsNull()) return p;
  const auto fields =
      coordinator
          ? Fields(n, path, {"resources", "nodeSelector", "tolerations", "serviceAccountName"})
          : Fields(n, path, {"resources", "nodeSelector", "tolerations"});
  for (const auto& [key, value] : fields) {
    const std::string field = path + "." + key;
    if (key == "resources") {
      if (value.IsNull()) continue;
      for (const auto& [rk, rv] : Fields(value, field, {"limits", "requests"})) {
        (rk == "limits" ? p.limits : p.requests) = ParseQuantities(rv, field + "." + rk);
      }
    } else if (key == "nodeSelector") {
      if (value.IsNull()) continue;
      for (const auto& [label, key_node, v] : Entries(value, field, "label: value")) {
        if (label.size() > 316 || !std::regex_match(label, kQualifiedName)) {
          Invalid(key_node, field, "give a label key such as kubernetes.io/os");
        }
        const std::string item = field + "." + label;
        std::string lv = String(v, item);
        if (lv.size() > 63 || !std::regex_match(lv, kLabelValue)) {
          Invalid(v, item, "give a label value (letters, digits, '-', '_', '.', at most 63)");
        }
        p.node_selector.emplace_back(label, std::move(lv));
      }
    } else if (key == "tolerations") {
      p.tolerations = ParseTolerations(value, field);
    } else {
      p.service_account_name = String(value, field);
      if (!p.service_account_name.empty()) {
        Match(value, field, p.service_account_name, kDnsSubdomain,
              "give a ServiceAccount's name (lowercase letters, digits, '-' and '.')");
      }
    }
  }
  return p;
}

OpenTelemetrySpec Parser::ParseOpenTelemetry(const YAML::Node& n, const std::string& path) const {
  OpenTelemetrySpec o;
  if (n.IsNull()) return o;
  YAML::Node endpoint_node;
  for (const auto& [key, value] :
       Fields(n, path, {"enabled", "endpoint", "protocol", "insecure", "extraEnvVars"})) {
    const std::string field = path + "." + key;
    if (key == "enabled") {
      o.enabled = Bool(value, field);
    } else if (key == "endpoint") {
      o.endpoint = String(value, field);
      endpoint_node = value;
    } else if (key == "protocol") {
      o.protocol = String(value, field);
      if (o.protocol != "grpc" && o.protocol != "http/protobuf") {
        Invalid(value, field, "give grpc or http/protobuf");
      }
    } else if (key == "insecure") {
      o.insecure = Bool(value, field);
    } else {
      o.extra_env_vars = ParseEnvMap(value, field);
    }
  }
  if (o.enabled && o.endpoint.empty()) {
    Fail(n, "missing " + path +
                ".endpoint: it is required when enabled is true, e.g. "
                "http://otel-collector.observability:4317");
  }
  if (!o.endpoint.empty()) {
    const std::string field = path + ".endpoint";
    const size_t sep = o.endpoint.find("://");
    if (sep != std::string::npos) {
      const std::string scheme = o.endpoint.substr(0, sep);
      if (scheme != "http" && scheme != "https") {
        Invalid(endpoint_node, field,
                "the scheme must be http or https, e.g. http://otel-collector:4317");
      }
      if (sep + 3 >= o.endpoint.size()) Invalid(endpoint_node, field, "the URL has no host");
    } else if (o.protocol != "grpc") {
      Invalid(endpoint_node, field,
              "with protocol http/protobuf give a URL with a scheme, e.g. "
              "http://otel-collector:4318");
    }
    if (o.endpoint.find_first_of(" \t") != std::string::npos) {
      Invalid(endpoint_node, field, "a URL has no spaces");
    }
  }
  return o;
}

// ---------------------------------------------------------------------------
// Emitting

bool IsYamlWord(const std::string& s) {
  static const std::set<std::string> kWords = {"y",   "n",    "yes",   "no",  "on",
                                               "off", "true", "false", "null"};
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return kWords.count(lower) > 0;
}

// Plain only when no YAML parser (1.1 or 1.2, Go's included) could read it as
// anything but this string; everything else is double-quoted, with escapes.
bool SafePlain(const std::string& s) {
  static const std::regex kPlain("(--?[A-Za-z]|[A-Za-z/])[A-Za-z0-9_./@+-]*(:[A-Za-z0-9_./@+-]+)*");
  return std::regex_match(s, kPlain) && !IsYamlWord(s);
}

void Str(YAML::Emitter& e, const std::string& s) {
  if (SafePlain(s)) {
    e << s;
  } else {
    e << YAML::DoubleQuoted << s;
  }
}

// File text: a literal block (readable in kubectl) when it reads back
// byte-for-byte, otherwise double-quoted.
void Text(YAML::Emitter& e, const std::string& s) {
  bool literal = !s.empty() && s.back() == '\n' && (s.size() < 2 || s[s.size() - 2] != '\n') &&
                 s.find('\r') == std::string::npos && s.find('\t') == std::string::npos &&
                 s.front() != ' ';
  if (literal) {
    YAML::Emitter probe;
    probe << YAML::BeginMap << YAML::Key << "k" << YAML::Value << YAML::Literal << s
          << YAML::EndMap;
    try {
      YAML::Node back = YAML::Load(probe.c_str());
      literal = probe.good() && back["k"].IsScalar() && back["k"].Scalar() == s;
    } catch (const YAML::Exception&) {
      literal = false;
    }
  }
  if (literal) {
    e << YAML::Literal << s;
  } else {
    e << YAML::DoubleQuoted << s;
  }
}

void KV(YAML::Emitter& e, const char* key, const std::string& value) {
  e << YAML::Key << key << YAML::Value;
  Str(e, value);
}
void KV(YAML::Emitter& e, const char* key, int64_t value) {
  e << YAML::Key << key << YAML::Value << value;
}
void KV(YAML::Emitter& e, const char* key, bool value) {
  e << YAML::Key << key << YAML::Value << (value ? "true" : "false");
}
void StringMap(YAML::Emitter& e, const char* key, const StringPairs& pairs) {
  e << YAML::Key << key << YAML::Value << YAML::BeginMap;
  for (const auto& [k, v] : pairs) {
    e << YAML::Key;
    Str(e, k);
    e << YAML::Value;
    Str(e, v);
  }
  e << YAML::EndMap;
}

struct Names {
  std::string config_map, secret, service, coordinator_job, agents_job;
};

Names NamesOf(const StampedeTest& t) {
  return {t.name + "-test", t.name + "-token", t.name + "-coordinator", t.name + "-coordinator",
          t.name + "-agents"};
}

StringPairs Labels(const StampedeTest& t, const char* role) {
  StringPairs l = {{"app.kubernetes.io/name", "stampede"}, {"app.kubernetes.io/instance", t.name}};
  if (role != nullptr) l.emplace_back("stampede.dev/role", role);
  return l;
}

void Metadata(YAML::Emitter& e, const StampedeTest& t, const std::string& name, const char* role) {
  e << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  KV(e, "name", name);
  if (!t.namespace_name.empty()) KV(e, "namespace", t.namespace_name);
  StringMap(e, "labels", Labels(t, role));
  e << YAML::EndMap;
}

std::string Document(const std::function<void(YAML::Emitter&)>& body) {
  YAML::Emitter e;
  e.SetIndent(2);
  e << YAML::BeginMap;
  body(e);
  e << YAML::EndMap;
  if (!e.good()) throw ConfigError("internal error rendering YAML: " + e.GetLastError());
  return std::string("---\n") + e.c_str() + "\n";
}

void EnvList(YAML::Emitter& e, const StampedeTest& t, PodRole role) {
  e << YAML::Key << "env" << YAML::Value << YAML::BeginSeq;
  e << YAML::BeginMap;
  KV(e, "name", std::string("STAMPEDE_TOKEN"));
  e << YAML::Key << "valueFrom" << YAML::Value << YAML::BeginMap << YAML::Key << "secretKeyRef"
    << YAML::Value << YAML::BeginMap;
  KV(e, "name", t.token_secret_name.empty() ? NamesOf(t).secret : t.token_secret_name);
  KV(e, "key", t.token_secret_key);
  e << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  if (role == PodRole::kAgent) {
    // Defined here, first, so that $(JOB_COMPLETION_INDEX) expands in the
    // variables below; the Job controller then leaves it as it is.
    e << YAML::BeginMap;
    KV(e, "name", std::string("JOB_COMPLETION_INDEX"));
    e << YAML::Key << "valueFrom" << YAML::Value << YAML::BeginMap << YAML::Key << "fieldRef"
      << YAML::Value << YAML::BeginMap;
    KV(e, "fieldPath",
       std::string("metadata.annotations['batch.kubernetes.io/job-completion-index']"));
    e << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  }
  for (const auto& [name, value] : PodEnvironment(t, role)) {
    e << YAML::BeginMap;
    KV(e, "name", name);
    KV(e, "value", value);
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
}

void Placement(YAML::Emitter& e, const PodPlacement& p) {
  if (!p.service_account_name.empty()) KV(e, "serviceAccountName", p.service_account_name);
  if (!p.node_selector.empty()) StringMap(e, "nodeSelector", p.node_selector);
  if (!p.tolerations.empty()) {
    e << YAML::Key << "tolerations" << YAML::Value << YAML::BeginSeq;
    for (const Toleration& t : p.tolerations) {
      e << YAML::BeginMap;
      if (!t.key.empty()) KV(e, "key", t.key);
      if (!t.op.empty()) KV(e, "operator", t.op);
      if (!t.value.empty()) KV(e, "value", t.value);
      if (!t.effect.empty()) KV(e, "effect", t.effect);
      if (t.toleration_seconds) KV(e, "tolerationSeconds", *t.toleration_seconds);
      e << YAML::EndMap;
    }
    e << YAML::EndSeq;
  }
}

void Resources(YAML::Emitter& e, const PodPlacement& p) {
  if (p.limits.empty() && p.requests.empty()) return;
  e << YAML::Key << "resources" << YAML::Value << YAML::BeginMap;
  if (!p.limits.empty()) StringMap(e, "limits", p.limits);
  if (!p.requests.empty()) StringMap(e, "requests", p.requests);
  e << YAML::EndMap;
}

void Job(YAML::Emitter& e, const StampedeTest& t, PodRole role) {
  const Names names = NamesOf(t);
  const bool agent = role == PodRole::kAgent;
  const char* role_name = agent ? "agent" : "coordinator";
  const PodPlacement& placement = agent ? t.agent : t.coordinator;
  KV(e, "apiVersion", std::string("batch/v1"));
  KV(e, "kind", std::string("Job"));
  Metadata(e, t, agent ? names.agents_job : names.coordinator_job, role_name);
  e << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  if (agent) KV(e, "completionMode", std::string("Indexed"));
  KV(e, "completions", static_cast<int64_t>(agent ? t.agents : 1));
  KV(e, "parallelism", static_cast<int64_t>(agent ? t.agents : 1));
  KV(e, "backoffLimit", int64_t{0});
  if (t.active_deadline_seconds) KV(e, "activeDeadlineSeconds", *t.active_deadline_seconds);
  e << YAML::Key << "template" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  StringMap(e, "labels", Labels(t, role_name));
  e << YAML::EndMap;
  e << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  KV(e, "restartPolicy", std::string("Never"));
  Placement(e, placement);
  e << YAML::Key << "containers" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  KV(e, "name", std::string(role_name));
  KV(e, "image", t.image);
  if (!t.image_pull_policy.empty()) KV(e, "imagePullPolicy", t.image_pull_policy);
  std::vector<std::string> command = {"stampede"};
  if (agent) {
    command.insert(command.end(), {"agent", "--coordinator",
                                   names.service + ":" + std::to_string(kCoordinatorPort)});
  } else {
    // A script named like a flag still reads as a path.
    const std::string script = t.script.front() == '-' ? "./" + t.script : t.script;
    command.insert(command.end(), {"coordinator", script, "--agents", std::to_string(t.agents),
                                   "--listen", "0.0.0.0:" + std::to_string(kCoordinatorPort)});
    command.insert(command.end(), t.args.begin(), t.args.end());
  }
  e << YAML::Key << "command" << YAML::Value << YAML::BeginSeq;
  for (const std::string& c : command) Str(e, c);
  e << YAML::EndSeq;
  if (!agent) {
    KV(e, "workingDir", std::string(kTestDir));
    e << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    KV(e, "name", std::string("stampede"));
    KV(e, "containerPort", int64_t{kCoordinatorPort});
    KV(e, "protocol", std::string("TCP"));
    e << YAML::EndMap << YAML::EndSeq;
  }
  EnvList(e, t, role);
  Resources(e, placement);
  if (!agent) {
    // The working directory is a writable emptyDir (outputs such as
    // --summary-export and the run store land there); each test file is
    // mounted into it, read-only, at its relative path.
    e << YAML::Key << "volumeMounts" << YAML::Value << YAML::BeginSeq;
    e << YAML::BeginMap;
    KV(e, "name", std::string("work"));
    KV(e, "mountPath", std::string(kTestDir));
    e << YAML::EndMap;
    for (const TestFile& f : t.files) {
      e << YAML::BeginMap;
      KV(e, "name", std::string("test-files"));
      KV(e, "mountPath", std::string(kTestDir) + "/" + f.path);
      KV(e, "subPath", f.key);
      KV(e, "readOnly", true);
      e << YAML::EndMap;
    }
    e << YAML::EndSeq;
  }
  e << YAML::EndMap << YAML::EndSeq;  // the container, containers
  if (!agent) {
    e << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq;
    e << YAML::BeginMap;
    KV(e, "name", std::string("work"));
    e << YAML::Key << "emptyDir" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::EndMap;
    e << YAML::EndMap;
    e << YAML::BeginMap;
    KV(e, "name", std::string("test-files"));
    e << YAML::Key << "configMap" << YAML::Value << YAML::BeginMap;
    KV(e, "name", names.config_map);
    e << YAML::EndMap << YAML::EndMap;
    e << YAML::EndSeq;
  }
  e << YAML::EndMap;  // pod spec
  e << YAML::EndMap;  // template
  e << YAML::EndMap;  // job spec
}

std::string RandomToken(const RenderOptions& options) {
  std::array<uint64_t, 2> words{};
  if (options.token_seed) {
    core::Rng rng(*options.token_seed);
    for (uint64_t& w : words) w = rng();
  } else {
    size_t got = 0;
    auto* bytes = reinterpret_cast<unsigned char*>(words.data());
    while (got < sizeof(words)) {
      ssize_t n = getrandom(bytes + got, sizeof(words) - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw ConfigError("cannot read random bytes for the token: give --token");
      got += static_cast<size_t>(n);
    }
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint64_t w : words) {
    for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(w >> shift) & 0xf];
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------

bool IsPrintableUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    // YAML's c-printable set.
    const bool printable = cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) ||
                           cp == 0x85 || (cp >= 0xA0 && cp <= 0xD7FF) ||
                           (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
    if (!printable) return false;
    i += len;
  }
  return true;
}

StampedeTest ParseStampedeTest(std::string_view yaml, const std::filesystem::path& base_dir,
                               const std::string& source) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    std::string where = source;
    if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
    throw ConfigError(where + ": not valid YAML: " + e.msg);
  }
  if (docs.size() != 1 || docs[0].IsNull()) {
    throw ConfigError(source + ": expected one StampedeTest document, found " +
                      std::to_string(docs.size() == 1 ? 0 : docs.size()) +
                      " (see docs/kubernetes.md)");
  }
  Parser parser(base_dir, source);
  return parser.Parse(docs[0]);
}

StampedeTest LoadStampedeTest(const std::filesystem::path& test_yaml) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(test_yaml, ec)) {
    throw ConfigError("cannot read " + test_yaml.string() +
                      ": no such file (give the StampedeTest YAML, e.g. deploy/k8s/test.yaml)");
  }
  std::ifstream in(test_yaml, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw ConfigError("cannot read " + test_yaml.string());
  std::filesystem::path base = test_yaml.parent_path();
  if (base.empty()) base = ".";
  return ParseStampedeTest(text.str(), base, test_yaml.string());
}

StringPairs OpenTelemetryEnvironment(const OpenTelemetrySpec& o) {
  StringPairs out;
  if (!o.enabled) return out;
  auto add = [&](const std::string& name, const std::string& value) {
    for (const auto& [extra, v] : o.extra_env_vars) {
      if (extra == name) return;  // extraEnvVars wins, at its own place
    }
    out.emplace_back(name, value);
  };
  add("OTEL_TRACES_EXPORTER", "otlp");
  add("OTEL_METRICS_EXPORTER", "otlp");
  add("OTEL_EXPORTER_OTLP_ENDPOINT", o.endpoint);
  add("OTEL_EXPORTER_OTLP_PROTOCOL", o.protocol.empty() ? "grpc" : o.protocol);
  if (o.insecure) add("OTEL_EXPORTER_OTLP_INSECURE", "true");
  for (const auto& kv : o.extra_env_vars) out.push_back(kv);
  return out;
}

StringPairs PodEnvironment(const StampedeTest& t, PodRole role) {
  StringPairs out = t.env;
  for (auto& kv : OpenTelemetryEnvironment(t.open_telemetry)) out.push_back(std::move(kv));
  if (role == PodRole::kAgent) {
    const std::string instance = "service.instance.id=$(JOB_COMPLETION_INDEX)";
    auto it = std::find_if(out.begin(), out.end(),
                           [](const auto& kv) { return kv.first == "OTEL_RESOURCE_ATTRIBUTES"; });
    if (it == out.end()) {
      out.emplace_back("OTEL_RESOURCE_ATTRIBUTES", instance);
    } else {
      std::string& value = it->second;
      while (!value.empty() && (value.back() == ',' || value.back() == ' ')) value.pop_back();
      value = value.empty() ? instance : value + "," + instance;
    }
  }
  return out;
}

std::string RenderManifests(const StampedeTest& t, const RenderOptions& options) {
  if (!options.token.empty() && !t.token_secret_name.empty()) {
    throw ConfigError("--token and spec.token.secretName " + QuoteInput(t.token_secret_name) +
                      " contradict each other: give one of them");
  }
  if (!options.token.empty() && (!IsPrintableUtf8(options.token) ||
                                 options.token.find_first_of(" \t\r\n") != std::string::npos)) {
    throw ConfigError("invalid --token: give a token without spaces or control characters");
  }
  const Names names = NamesOf(t);
  std::string out;

  out += Document([&](YAML::Emitter& e) {
    KV(e, "apiVersion", std::string("v1"));
    KV(e, "kind", std::string("ConfigMap"));
    Metadata(e, t, names.config_map, nullptr);
    bool any_text = false, any_binary = false;
    for (const TestFile& f : t.files) (f.binary ? any_binary : any_text) = true;
    if (any_text) {
      e << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
      for (const TestFile& f : t.files) {
        if (f.binary) continue;
        e << YAML::Key;
        Str(e, f.key);
        e << YAML::Value;
        Text(e, f.content);
      }
      e << YAML::EndMap;
    }
    if (any_binary) {
      e << YAML::Key << "binaryData" << YAML::Value << YAML::BeginMap;
      for (const TestFile& f : t.files) {
        if (!f.binary) continue;
        e << YAML::Key;
        Str(e, f.key);
        e << YAML::Value << YAML::DoubleQuoted << core::Base64Encode(f.content);
      }
      e << YAML::EndMap;
    }
  });

  if (t.token_secret_name.empty()) {
    const std::string token = options.token.empty() ? RandomToken(options) : options.token;
    out += Document([&](YAML::Emitter& e) {
      KV(e, "apiVersion", std::string("v1"));
      KV(e, "kind", std::string("Secret"));
      Metadata(e, t, names.secret, nullptr);
      KV(e, "type", std::string("Opaque"));
      e << YAML::Key << "stringData" << YAML::Value << YAML::BeginMap << YAML::Key << "token"
        << YAML::Value << YAML::DoubleQuoted << token << YAML::EndMap;
    });
  }

  out += Document([&](YAML::Emitter& e) {
    KV(e, "apiVersion", std::string("v1"));
    KV(e, "kind", std::string("Service"));
    Metadata(e, t, names.service, "coordinator");
    e << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
    KV(e, "clusterIP", std::string("None"));
    // Agents may start before the coordinator is ready; its address is
    // published at once so that they resolve it and connect while it waits.
    KV(e, "publishNotReadyAddresses", true);
    StringMap(e, "selector", Labels(t, "coordinator"));
    e << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    KV(e, "name", std::string("stampede"));
    KV(e, "port", int64_t{kCoordinatorPort});
    KV(e, "targetPort", int64_t{kCoordinatorPort});
    KV(e, "protocol", std::string("TCP"));
    e << YAML::EndMap << YAML::EndSeq;
    e << YAML::EndMap;
  });

  out += Document([&](YAML::Emitter& e) { Job(e, t, PodRole::kCoordinator); });
  out += Document([&](YAML::Emitter& e) { Job(e, t, PodRole::kAgent); });
  return out;
}

}  // namespace stampede::dist
