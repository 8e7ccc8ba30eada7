#include "dist/k8s_render.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "core/base64.h"
#include "core/error.h"

namespace stampede::dist {
namespace {

namespace fs = std::filesystem;

// Each test gets its own folder with shop.lua and users.csv in it.
class K8sRenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("k8s_render_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Write("shop.lua", "local http = require('stampede.http')\nfunction default() end\n");
    Write("users.csv", "name,password\nada,secret\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& bytes) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel, std::ios::binary) << bytes;
  }
  StampedeTest Parse(const std::string& yaml) { return ParseStampedeTest(yaml, dir_, "test.yaml"); }
  // The ConfigError's message; fails the test when parsing succeeds.
  std::string Error(const std::string& yaml) {
    try {
      Parse(yaml);
    } catch (const core::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      EXPECT_EQ(e.code(), core::ExitCode::kInvalidConfig);
      return e.what();
    }
    ADD_FAILURE() << "no error for:\n" << yaml;
    return "";
  }
  static std::vector<YAML::Node> Render(const StampedeTest& t, uint64_t seed = 1) {
    RenderOptions o;
    o.token_seed = seed;
    return YAML::LoadAll(RenderManifests(t, o));
  }
  static YAML::Node Find(const std::vector<YAML::Node>& docs, const std::string& kind,
                         const std::string& name) {
    for (const YAML::Node& d : docs) {
      if (d["kind"].as<std::string>() == kind && d["metadata"]["name"].as<std::string>() == name) {
        return d;
      }
    }
    ADD_FAILURE() << "no " << kind << " " << name;
    return YAML::Node();
  }

  fs::path dir_;
};

const char* kMinimal = R"(
apiVersion: stampede.dev/v1alpha1
kind: StampedeTest
metadata: {name: shop-load}
spec:
  script: shop.lua
  agents: 4
  image: stampede:0.1.0
)";

std::string WithSpec(const std::string& extra) { return std::string(kMinimal) + extra; }

// The pod's env as name → (value or "<from>").
std::map<std::string, std::string> EnvOf(const YAML::Node& job) {
  std::map<std::string, std::string> out;
  for (const YAML::Node& e : job["spec"]["template"]["spec"]["containers"][0]["env"]) {
    out[e["name"].as<std::string>()] = e["value"] ? e["value"].as<std::string>() : "<from>";
  }
  return out;
}

TEST_F(K8sRenderTest, MinimalDocumentRendersFiveObjectsInApplyOrder) {
  const StampedeTest t = Parse(kMinimal);
  EXPECT_EQ(t.name, "shop-load");
  EXPECT_EQ(t.agents, 4);
  ASSERT_EQ(t.files.size(), 1u);
  EXPECT_EQ(t.files[0].path, "shop.lua");
  const auto docs = Render(t);
  ASSERT_EQ(docs.size(), 5u);
  const std::vector<std::string> kinds = {"ConfigMap", "Secret", "Service", "Job", "Job"};
  const std::vector<std::string> names = {"shop-load-test", "shop-load-token",
                                          "shop-load-coordinator", "shop-load-coordinator",
                                          "shop-load-agents"};
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(docs[i]["kind"].as<std::string>(), kinds[i]);
    EXPECT_EQ(docs[i]["metadata"]["name"].as<std::string>(), names[i]);
    EXPECT_FALSE(docs[i]["metadata"]["namespace"]);
    EXPECT_EQ(docs[i]["metadata"]["labels"]["app.kubernetes.io/name"].as<std::string>(),
              "stampede");
    EXPECT_EQ(docs[i]["metadata"]["labels"]["app.kubernetes.io/instance"].as<std::string>(),
              "shop-load");
  }
  EXPECT_EQ(docs[0]["data"]["shop.lua"].as<std::string>(),
            "local http = require('stampede.http')\nfunction default() end\n");

  const YAML::Node service = docs[2];
  EXPECT_EQ(service["spec"]["clusterIP"].as<std::string>(), "None");
  EXPECT_TRUE(service["spec"]["publishNotReadyAddresses"].as<bool>());
  EXPECT_EQ(service["spec"]["ports"][0]["port"].as<int>(), 6565);
  EXPECT_EQ(service["spec"]["selector"]["stampede.dev/role"].as<std::string>(), "coordinator");

  const YAML::Node coordinator = docs[3];
  EXPECT_EQ(coordinator["metadata"]["labels"]["stampede.dev/role"].as<std::string>(),
            "coordinator");
  EXPECT_EQ(coordinator["spec"]["parallelism"].as<int>(), 1);
  EXPECT_EQ(coordinator["spec"]["backoffLimit"].as<int>(), 0);
  const YAML::Node cpod = coordinator["spec"]["template"]["spec"];
  EXPECT_EQ(cpod["restartPolicy"].as<std::string>(), "Never");
  EXPECT_EQ(
      coordinator["spec"]["template"]["metadata"]["labels"]["stampede.dev/role"].as<std::string>(),
      "coordinator");
  const YAML::Node c = cpod["containers"][0];
  EXPECT_EQ(c["image"].as<std::string>(), "stampede:0.1.0");
  EXPECT_EQ(c["command"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"stampede", "coordinator", "shop.lua", "--agents", "4",
                                      "--listen", "0.0.0.0:6565"}));
  EXPECT_EQ(c["workingDir"].as<std::string>(), "/stampede/test");
  EXPECT_EQ(c["env"][0]["name"].as<std::string>(), "STAMPEDE_TOKEN");
  EXPECT_EQ(c["env"][0]["valueFrom"]["secretKeyRef"]["name"].as<std::string>(), "shop-load-token");
  EXPECT_EQ(c["env"][0]["valueFrom"]["secretKeyRef"]["key"].as<std::string>(), "token");
  EXPECT_EQ(c["volumeMounts"][1]["mountPath"].as<std::string>(), "/stampede/test/shop.lua");
  EXPECT_EQ(c["volumeMounts"][1]["subPath"].as<std::string>(), "shop.lua");
  EXPECT_EQ(cpod["volumes"][1]["configMap"]["name"].as<std::string>(), "shop-load-test");

  const YAML::Node agents = docs[4];
  EXPECT_EQ(agents["metadata"]["labels"]["stampede.dev/role"].as<std::string>(), "agent");
  EXPECT_EQ(agents["spec"]["completionMode"].as<std::string>(), "Indexed");
  EXPECT_EQ(agents["spec"]["completions"].as<int>(), 4);
  EXPECT_EQ(agents["spec"]["parallelism"].as<int>(), 4);
  EXPECT_EQ(agents["spec"]["backoffLimit"].as<int>(), 0);
  const YAML::Node apod = agents["spec"]["template"]["spec"];
  EXPECT_EQ(apod["restartPolicy"].as<std::string>(), "Never");
  EXPECT_FALSE(apod["volumes"]);  // the coordinator ships the files
  const YAML::Node a = apod["containers"][0];
  EXPECT_EQ(a["command"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"stampede", "agent", "--coordinator",
                                      "shop-load-coordinator:6565"}));
  EXPECT_EQ(a["env"][0]["name"].as<std::string>(), "STAMPEDE_TOKEN");
  EXPECT_EQ(a["env"][1]["name"].as<std::string>(), "JOB_COMPLETION_INDEX");
  EXPECT_EQ(a["env"][1]["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>(),
            "metadata.annotations['batch.kubernetes.io/job-completion-index']");
}

TEST_F(K8sRenderTest, TokenIsDeterministicWithASeedAndRandomOtherwise) {
  const StampedeTest t = Parse(kMinimal);
  RenderOptions seeded;
  seeded.token_seed = 7;
  EXPECT_EQ(RenderManifests(t, seeded), RenderManifests(t, seeded));
  const std::string token = Render(t, 7)[1]["stringData"]["token"].as<std::string>();
  EXPECT_TRUE(std::regex_match(token, std::regex("[0-9a-f]{32}"))) << token;
  EXPECT_NE(token, Render(t, 8)[1]["stringData"]["token"].as<std::string>());
  const std::string a =
      YAML::LoadAll(RenderManifests(t, {}))[1]["stringData"]["token"].as<std::string>();
  const std::string b =
      YAML::LoadAll(RenderManifests(t, {}))[1]["stringData"]["token"].as<std::string>();
  EXPECT_NE(a, b);
  RenderOptions given;
  given.token = "s3cr3t-token";
  EXPECT_EQ(YAML::LoadAll(RenderManifests(t, given))[1]["stringData"]["token"].as<std::string>(),
            "s3cr3t-token");
}

TEST_F(K8sRenderTest, ExistingSecretIsReferencedAndNotRendered) {
  const StampedeTest t = Parse(WithSpec("  token: {secretName: load-token, key: shared}\n"));
  const auto docs = Render(t);
  ASSERT_EQ(docs.size(), 4u);
  for (const YAML::Node& d : docs) EXPECT_NE(d["kind"].as<std::string>(), "Secret");
  for (const YAML::Node& job : {docs[2], docs[3]}) {
    const YAML::Node ref =
        job["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"];
    EXPECT_EQ(ref["name"].as<std::string>(), "load-token");
    EXPECT_EQ(ref["key"].as<std::string>(), "shared");
  }
  RenderOptions o;
  o.token = "abc";
  try {
    RenderManifests(t, o);
    ADD_FAILURE() << "--token with secretName accepted";
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("spec.token.secretName"), std::string::npos) << e.what();
  }
  EXPECT_NE(Error(WithSpec("  token: {key: shared}\n"))
                .find("spec.token.key needs spec.token.secretName"),
            std::string::npos);
}

TEST_F(K8sRenderTest, EverythingPassesThrough) {
  Write("data/users 2.csv", "a\n");
  const StampedeTest t = Parse(R"(
apiVersion: stampede.dev/v1alpha1
kind: StampedeTest
metadata: {name: shop-load, namespace: load}
spec:
  script: shop.lua
  files: [users.csv, "data/users 2.csv"]
  agents: 3
  image: registry.example/stampede:0.1.0
  imagePullPolicy: Always
  args: ["--threshold", "http_req_duration:p(95)<500", "-e", "BASE=http://shop"]
  env: {ZED: "1", ALPHA: "true"}
  activeDeadlineSeconds: 3600
  coordinator:
    serviceAccountName: stampede
    resources: {limits: {cpu: "2", memory: 1Gi}, requests: {cpu: 500m}}
    nodeSelector: {kubernetes.io/os: linux}
    tolerations: [{key: dedicated, operator: Equal, value: load, effect: NoSchedule}]
  agent:
    resources: {requests: {cpu: "1", nvidia.com/gpu: 1}}
    nodeSelector: {pool: load}
    tolerations: [{operator: Exists, effect: NoExecute, tolerationSeconds: 30}]
)");
  const auto docs = Render(t);
  for (const YAML::Node& d : docs) EXPECT_EQ(d["metadata"]["namespace"].as<std::string>(), "load");
  EXPECT_EQ(docs[0]["data"]["users.csv"].as<std::string>(), "name,password\nada,secret\n");
  EXPECT_EQ(docs[0]["data"]["data_users_2.csv"].as<std::string>(), "a\n");
  const YAML::Node coordinator = docs[3]["spec"];
  EXPECT_EQ(coordinator["activeDeadlineSeconds"].as<int>(), 3600);
  EXPECT_EQ(docs[4]["spec"]["activeDeadlineSeconds"].as<int>(), 3600);
  const YAML::Node cpod = coordinator["template"]["spec"];
  EXPECT_EQ(cpod["serviceAccountName"].as<std::string>(), "stampede");
  EXPECT_EQ(cpod["nodeSelector"]["kubernetes.io/os"].as<std::string>(), "linux");
  EXPECT_EQ(cpod["tolerations"][0]["effect"].as<std::string>(), "NoSchedule");
  const YAML::Node c = cpod["containers"][0];
  EXPECT_EQ(c["imagePullPolicy"].as<std::string>(), "Always");
  EXPECT_EQ(c["resources"]["limits"]["cpu"].as<std::string>(), "2");
  EXPECT_EQ(c["resources"]["limits"]["memory"].as<std::string>(), "1Gi");
  EXPECT_EQ(c["resources"]["requests"]["cpu"].as<std::string>(), "500m");
  EXPECT_EQ(c["command"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"stampede", "coordinator", "shop.lua", "--agents", "3",
                                      "--listen", "0.0.0.0:6565", "--threshold",
                                      "http_req_duration:p(95)<500", "-e", "BASE=http://shop"}));
  EXPECT_EQ(c["volumeMounts"][3]["mountPath"].as<std::string>(), "/stampede/test/data/users 2.csv");
  EXPECT_EQ(c["volumeMounts"][3]["subPath"].as<std::string>(), "data_users_2.csv");
  const auto env = EnvOf(docs[3]);
  EXPECT_EQ(env.at("ALPHA"), "true");
  EXPECT_EQ(env.at("ZED"), "1");
  const YAML::Node apod = docs[4]["spec"]["template"]["spec"];
  EXPECT_FALSE(apod["serviceAccountName"]);
  EXPECT_EQ(apod["nodeSelector"]["pool"].as<std::string>(), "load");
  EXPECT_EQ(apod["tolerations"][0]["operator"].as<std::string>(), "Exists");
  EXPECT_EQ(apod["tolerations"][0]["tolerationSeconds"].as<int>(), 30);
  EXPECT_EQ(apod["containers"][0]["resources"]["requests"]["nvidia.com/gpu"].as<std::string>(),
            "1");
  EXPECT_EQ(EnvOf(docs[4]).at("ALPHA"), "true");
}

// Scripts and values hold anything; the manifests must carry them exactly.
TEST_F(K8sRenderTest, HostileTextAndBinaryFilesRoundTrip) {
  const std::vector<std::string> texts = {
      "no trailing newline",
      "two trailing newlines\n\n",
      "  leading spaces\nx\n",
      "\n\n  indented after blank lines\n",
      "tabs\tand CRLF\r\nline\r\n",
      "---\n...\n# not a comment\nkey: value\n- item\n'\"\\ \n",
      "unicode: café ☕ 🚀\n",
      "trailing spaces   \nend\n",
      "",
  };
  std::string files = "  files: [";
  for (size_t i = 0; i < texts.size(); ++i) {
    Write("t" + std::to_string(i) + ".txt", texts[i]);
    files += (i ? ", " : "") + std::string("t") + std::to_string(i) + ".txt";
  }
  const std::string binary("\x89PNG\r\n\x1a\n\0\xff\xfe", 11);
  Write("logo.png", binary);
  Write("latin1.csv", "caf\xe9\n");
  files += ", logo.png, latin1.csv]\n";
  const StampedeTest t = Parse(WithSpec(
      files +
      R"(  args: ["true", "123", "a: b", "#x", "-", "null", "~", "--x=y z", "p(95)<500", "{x}"]
  env: {A: "yes", B: "0x1F", C: "", D: "multi\nline", E: " spaced "}
)"));
  const auto docs = Render(t);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(docs[0]["data"]["t" + std::to_string(i) + ".txt"].as<std::string>(), texts[i]) << i;
  }
  EXPECT_FALSE(docs[0]["data"]["logo.png"]);
  EXPECT_EQ(docs[0]["binaryData"]["logo.png"].as<std::string>(), core::Base64Encode(binary));
  EXPECT_EQ(docs[0]["binaryData"]["latin1.csv"].as<std::string>(), core::Base64Encode("caf\xe9\n"));
  const auto command = docs[3]["spec"]["template"]["spec"]["containers"][0]["command"]
                           .as<std::vector<std::string>>();
  const std::vector<std::string> args(command.begin() + 7, command.end());
  EXPECT_EQ(args, (std::vector<std::string>{"true", "123", "a: b", "#x", "-", "null", "~",
                                            "--x=y z", "p(95)<500", "{x}"}));
  // Strings stay strings: no YAML parser may turn them into bools or numbers.
  const std::string text = RenderManifests(t, RenderOptions{"tok", std::nullopt});
  EXPECT_NE(text.find("- \"true\""), std::string::npos);
  EXPECT_NE(text.find("- \"123\""), std::string::npos);
  const auto env = EnvOf(docs[4]);
  EXPECT_EQ(env.at("A"), "yes");
  EXPECT_EQ(env.at("B"), "0x1F");
  EXPECT_EQ(env.at("C"), "");
  EXPECT_EQ(env.at("D"), "multi\nline");
  EXPECT_EQ(env.at("E"), " spaced ");
}

// --- spec.observability.openTelemetry → OTEL_* variables, case by case ---

class OtelEnvTest : public K8sRenderTest {
 protected:
  StampedeTest WithOtel(const std::string& block, const std::string& env = "") {
    return Parse(WithSpec(env + "  observability:\n    openTelemetry: " + block + "\n"));
  }
};

TEST_F(OtelEnvTest, AbsentOrDisabledSetsNothingButTheAgentsInstanceId) {
  for (const std::string& doc :
       {std::string(kMinimal), WithSpec("  observability: {openTelemetry: {enabled: false, "
                                        "endpoint: http://c:4317, insecure: true, "
                                        "extraEnvVars: {OTEL_SERVICE_NAME: x}}}\n")}) {
    const StampedeTest t = Parse(doc);
    EXPECT_TRUE(OpenTelemetryEnvironment(t.open_telemetry).empty());
    EXPECT_TRUE(PodEnvironment(t, PodRole::kCoordinator).empty());
    EXPECT_EQ(
        PodEnvironment(t, PodRole::kAgent),
        (StringPairs{{"OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=$(JOB_COMPLETION_INDEX)"}}));
  }
}

TEST_F(OtelEnvTest, EnabledDefaultsToGrpcAndTurnsExportOn) {
  const StampedeTest t = WithOtel("{enabled: true, endpoint: otel-collector.observability:4317}");
  EXPECT_EQ(PodEnvironment(t, PodRole::kCoordinator),
            (StringPairs{{"OTEL_TRACES_EXPORTER", "otlp"},
                         {"OTEL_METRICS_EXPORTER", "otlp"},
                         {"OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector.observability:4317"},
                         {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}));
  StringPairs agent = PodEnvironment(t, PodRole::kCoordinator);
  agent.emplace_back("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=$(JOB_COMPLETION_INDEX)");
  EXPECT_EQ(PodEnvironment(t, PodRole::kAgent), agent);
  // And in the rendered Jobs.
  const auto docs = Render(t);
  EXPECT_EQ(EnvOf(docs[3]).at("OTEL_EXPORTER_OTLP_ENDPOINT"), "otel-collector.observability:4317");
  EXPECT_EQ(EnvOf(docs[4]).at("OTEL_RESOURCE_ATTRIBUTES"),
            "service.instance.id=$(JOB_COMPLETION_INDEX)");
  EXPECT_EQ(EnvOf(docs[4]).at("OTEL_TRACES_EXPORTER"), "otlp");
}

TEST_F(OtelEnvTest, HttpProtobufAndInsecure) {
  const StampedeTest t = WithOtel(
      "{enabled: true, endpoint: \"http://c:4318\", protocol: http/protobuf, insecure: true}");
  EXPECT_EQ(OpenTelemetryEnvironment(t.open_telemetry),
            (StringPairs{{"OTEL_TRACES_EXPORTER", "otlp"},
                         {"OTEL_METRICS_EXPORTER", "otlp"},
                         {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                         {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"},
                         {"OTEL_EXPORTER_OTLP_INSECURE", "true"}}));
  // insecure: false sets nothing (the default), as in the Locust operator.
  const StampedeTest secure =
      WithOtel("{enabled: true, endpoint: \"https://c:4317\", insecure: false}");
  for (const auto& [name, value] : OpenTelemetryEnvironment(secure.open_telemetry)) {
    EXPECT_NE(name, "OTEL_EXPORTER_OTLP_INSECURE");
  }
}

TEST_F(OtelEnvTest, ExtraEnvVarsAreVerbatimSortedAndWinOverGenerated) {
  const StampedeTest t = WithOtel(
      "{enabled: true, endpoint: c:4317, extraEnvVars: {OTEL_SERVICE_NAME: shop-load, "
      "OTEL_METRICS_EXPORTER: none, OTEL_EXPORTER_OTLP_HEADERS: \"x-token=a%2Cb\", "
      "OTEL_TRACES_SAMPLER_ARG: \"0.1\"}}");
  EXPECT_EQ(OpenTelemetryEnvironment(t.open_telemetry),
            (StringPairs{{"OTEL_TRACES_EXPORTER", "otlp"},
                         {"OTEL_EXPORTER_OTLP_ENDPOINT", "c:4317"},
                         {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
                         {"OTEL_EXPORTER_OTLP_HEADERS", "x-token=a%2Cb"},
                         {"OTEL_METRICS_EXPORTER", "none"},
                         {"OTEL_SERVICE_NAME", "shop-load"},
                         {"OTEL_TRACES_SAMPLER_ARG", "0.1"}}));
}

TEST_F(OtelEnvTest, AgentsAppendTheirIndexToTheUsersResourceAttributes) {
  const StampedeTest t = WithOtel(
      "{enabled: true, endpoint: c:4317, extraEnvVars: {OTEL_RESOURCE_ATTRIBUTES: "
      "\"deployment.environment=staging,team=perf,\"}}");
  auto find = [](const StringPairs& env) {
    for (const auto& [n, v] : env) {
      if (n == "OTEL_RESOURCE_ATTRIBUTES") return v;
    }
    return std::string("<unset>");
  };
  EXPECT_EQ(find(PodEnvironment(t, PodRole::kCoordinator)),
            "deployment.environment=staging,team=perf,");
  EXPECT_EQ(find(PodEnvironment(t, PodRole::kAgent)),
            "deployment.environment=staging,team=perf,service.instance.id=$(JOB_COMPLETION_INDEX)");
  // Given in spec.env instead (no OTel block): appended the same way.
  const StampedeTest plain = Parse(WithSpec("  env: {OTEL_RESOURCE_ATTRIBUTES: \"team=perf\"}\n"));
  EXPECT_EQ(find(PodEnvironment(plain, PodRole::kAgent)),
            "team=perf,service.instance.id=$(JOB_COMPLETION_INDEX)");
  EXPECT_EQ(find(PodEnvironment(plain, PodRole::kCoordinator)), "team=perf");
}

TEST_F(OtelEnvTest, BadBlocksNameTheFieldAndTheFix) {
  std::string e = Error(WithSpec("  observability: {openTelemetry: {enabled: true}}\n"));
  EXPECT_NE(e.find("missing spec.observability.openTelemetry.endpoint"), std::string::npos) << e;
  e =
      Error(WithSpec("  observability: {openTelemetry: {enabled: true, endpoint: c:4317, "
                     "protocol: http/json}}\n"));
  EXPECT_NE(e.find("invalid spec.observability.openTelemetry.protocol \"http/json\": give grpc or "
                   "http/protobuf"),
            std::string::npos)
      << e;
  e =
      Error(WithSpec("  observability: {openTelemetry: {enabled: true, endpoint: c:4318, "
                     "protocol: http/protobuf}}\n"));
  EXPECT_NE(e.find("spec.observability.openTelemetry.endpoint \"c:4318\""), std::string::npos) << e;
  EXPECT_NE(e.find("http://otel-collector:4318"), std::string::npos) << e;
  e = Error(WithSpec("  observability: {openTelemetry: {enabled: true, endpoint: \"ftp://c\"}}\n"));
  EXPECT_NE(e.find("the scheme must be http or https"), std::string::npos) << e;
  e = Error(WithSpec("  observability: {openTelemetry: {enabled: yes, endpoint: c:4317}}\n"));
  EXPECT_NE(e.find("invalid spec.observability.openTelemetry.enabled \"yes\": give true or false"),
            std::string::npos)
      << e;
  e = Error(WithSpec("  observability: {openTelemetry: {enabled: true, endpont: c:4317}}\n"));
  EXPECT_NE(e.find("unknown field spec.observability.openTelemetry.endpont"), std::string::npos)
      << e;
  EXPECT_NE(e.find("enabled, endpoint, protocol, insecure, extraEnvVars"), std::string::npos) << e;
  e =
      Error(WithSpec("  env: {OTEL_SERVICE_NAME: a}\n  observability: {openTelemetry: {enabled: "
                     "true, endpoint: c:4317, extraEnvVars: {OTEL_SERVICE_NAME: b}}}\n"));
  EXPECT_NE(e.find("spec.env.OTEL_SERVICE_NAME is also set by spec.observability.openTelemetry"),
            std::string::npos)
      << e;
  e =
      Error(WithSpec("  observability: {openTelemetry: {enabled: true, endpoint: c:4317, "
                     "extraEnvVars: {STAMPEDE_TOKEN: x}}}\n"));
  EXPECT_NE(e.find("STAMPEDE_TOKEN is set by the rendered manifests"), std::string::npos) << e;
}

// --- the rest of the document's errors ---

TEST_F(K8sRenderTest, EveryBadFieldGetsOneLineNamingIt) {
  struct Case {
    std::string doc;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {WithSpec("  agnets: 4\n"),
       "test.yaml:9: unknown field spec.agnets: spec takes script, files, agents"},
      {std::string(kMinimal) + "status: {}\n",
       "unknown field status: a StampedeTest takes apiVersion"},
      {std::regex_replace(kMinimal, std::regex("agents: 4"), "agents: 0"),
       "test.yaml:7: invalid spec.agents \"0\": give a whole number from 1 to 1000"},
      {std::regex_replace(kMinimal, std::regex("agents: 4"), "agents: 1001"),
       "invalid spec.agents \"1001\""},
      {std::regex_replace(kMinimal, std::regex("agents: 4"), "agents: four"),
       "invalid spec.agents \"four\""},
      {std::regex_replace(kMinimal, std::regex("agents: 4"), "agents: [4]"),
       "invalid spec.agents (a list)"},
      {std::regex_replace(kMinimal, std::regex("  agents: 4\n"), ""), "missing spec.agents"},
      {std::regex_replace(kMinimal, std::regex("  image: stampede:0.1.0\n"), ""),
       "missing spec.image"},
      {std::regex_replace(kMinimal, std::regex("shop.lua"), "nope.lua"),
       "spec.script: \"nope.lua\" does not exist (looked for "},
      {std::regex_replace(kMinimal, std::regex("shop.lua"), "../shop.lua"),
       "invalid spec.script \"../shop.lua\": the path leaves the folder of test.yaml"},
      {std::regex_replace(kMinimal, std::regex("shop.lua"), "/etc/passwd"),
       "invalid spec.script \"/etc/passwd\": give a path relative"},
      {WithSpec("  files: [users.csv, missing.csv]\n"),
       "spec.files[1]: \"missing.csv\" does not exist"},
      {WithSpec("  files: [shop.lua]\n"),
       "invalid spec.files[0] \"shop.lua\": this file is already listed"},
      {std::regex_replace(kMinimal, std::regex("shop-load"), "Shop_Load"),
       "invalid metadata.name \"Shop_Load\": give lowercase letters"},
      {std::regex_replace(kMinimal, std::regex("shop-load"), std::string(52, 'a')),
       "at most 51 characters"},
      {std::regex_replace(kMinimal, std::regex("\\{name: shop-load\\}"),
                          "{name: a, namespace: Load}"),
       "invalid metadata.namespace \"Load\""},
      {std::regex_replace(kMinimal, std::regex("v1alpha1"), "v1"),
       "invalid apiVersion \"stampede.dev/v1\": give stampede.dev/v1alpha1"},
      {std::regex_replace(kMinimal, std::regex("kind: StampedeTest"), "kind: LocustTest"),
       "invalid kind \"LocustTest\": give StampedeTest"},
      {WithSpec("  imagePullPolicy: always\n"),
       "invalid spec.imagePullPolicy \"always\": give Always, IfNotPresent or Never"},
      {WithSpec("  args: [\"--agents=9\"]\n"),
       "invalid spec.args[0] \"--agents=9\": --agents is set"},
      {WithSpec("  args: \"--threshold x\"\n"),
       "invalid spec.args \"--threshold x\": expected a list"},
      {WithSpec("  env: {STAMPEDE_TOKEN: x}\n"), "STAMPEDE_TOKEN is set by the rendered manifests"},
      {WithSpec("  env: {1BAD: x}\n"), "invalid spec.env \"1BAD\""},
      {WithSpec("  env: {A: {b: c}}\n"), "invalid spec.env.A (a mapping): expected a string"},
      {WithSpec("  token: {secretname: x}\n"),
       "unknown field spec.token.secretname: spec.token takes secretName, key"},
      {WithSpec("  activeDeadlineSeconds: -1\n"), "invalid spec.activeDeadlineSeconds \"-1\""},
      {WithSpec("  coordinator: {resources: {limits: {cpu: lots}}}\n"),
       "invalid spec.coordinator.resources.limits.cpu \"lots\": give a Kubernetes quantity"},
      {WithSpec("  coordinator: {resources: {limit: {cpu: 1}}}\n"),
       "unknown field spec.coordinator.resources.limit: spec.coordinator.resources takes limits, "
       "requests"},
      {WithSpec("  agent: {serviceAccountName: x}\n"),
       "unknown field spec.agent.serviceAccountName: spec.agent takes resources, nodeSelector, "
       "tolerations"},
      {WithSpec("  agent: {tolerations: [{key: a, operator: Exists, value: b}]}\n"),
       "spec.agent.tolerations[0]: operator Exists takes no value"},
      {WithSpec("  agent: {tolerations: [{key: a, effect: NoRun}]}\n"),
       "invalid spec.agent.tolerations[0].effect \"NoRun\": give NoSchedule, PreferNoSchedule or "
       "NoExecute"},
      {WithSpec("  agent: {nodeSelector: {pool: \"a b\"}}\n"),
       "invalid spec.agent.nodeSelector.pool \"a b\""},
      {WithSpec("  observability: {tracing: {}}\n"),
       "unknown field spec.observability.tracing: spec.observability takes openTelemetry"},
      {WithSpec("  agents: 5\n"), "spec.agents is given twice"},
      {std::string(kMinimal) + "---\n" + kMinimal, "expected one StampedeTest document, found 2"},
      {"", "expected one StampedeTest document, found 0"},
      {"spec: [unclosed\n", "test.yaml:2: not valid YAML"},
      {"- a\n", "invalid document (a list): expected a mapping of apiVersion"},
  };
  for (const Case& c : cases) {
    const std::string e = Error(c.doc);
    EXPECT_NE(e.find(c.expected), std::string::npos) << "got: " << e << "\nwanted: " << c.expected;
  }
}

TEST_F(K8sRenderTest, ConfigMapKeysStayUniqueAndScriptsNamedLikeFlagsStayPaths) {
  Write("a b.csv", "1\n");
  Write("a_b.csv", "2\n");
  Write("-x.lua", "-- x\n");
  const StampedeTest t = Parse(std::regex_replace(kMinimal, std::regex("shop.lua"), "-x.lua") +
                               "  files: [\"a b.csv\", a_b.csv]\n");
  ASSERT_EQ(t.files.size(), 3u);
  EXPECT_EQ(t.files[1].key, "a_b.csv");
  EXPECT_EQ(t.files[2].key, "a_b.csv.2");
  const auto docs = Render(t);
  EXPECT_EQ(docs[0]["data"]["a_b.csv"].as<std::string>(), "1\n");
  EXPECT_EQ(docs[0]["data"]["a_b.csv.2"].as<std::string>(), "2\n");
  const YAML::Node c = docs[3]["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["command"][2].as<std::string>(), "./-x.lua");
  EXPECT_EQ(c["volumeMounts"][3]["mountPath"].as<std::string>(), "/stampede/test/a_b.csv");
  EXPECT_EQ(c["volumeMounts"][3]["subPath"].as<std::string>(), "a_b.csv.2");
}

TEST_F(K8sRenderTest, RefusesFilesOverTheConfigMapLimit) {
  Write("big.csv", std::string(kMaxConfigMapBytes, 'x'));
  const std::string e = Error(WithSpec("  files: [big.csv]\n"));
  EXPECT_NE(e.find("over the 1 MiB (1048576 bytes) a ConfigMap holds"), std::string::npos) << e;
}

TEST_F(K8sRenderTest, LoadResolvesFilesBesideTheDocument) {
  Write("test.yaml", WithSpec("  files: [users.csv]\n"));
  const StampedeTest t = LoadStampedeTest(dir_ / "test.yaml");
  ASSERT_EQ(t.files.size(), 2u);
  EXPECT_EQ(t.files[1].content, "name,password\nada,secret\n");
  try {
    LoadStampedeTest(dir_ / "absent.yaml");
    ADD_FAILURE();
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.yaml"), std::string::npos);
  }
}

TEST(K8sHelpersTest, Base64) {
  EXPECT_EQ(core::Base64Encode(""), "");
  EXPECT_EQ(core::Base64Encode("f"), "Zg==");
  EXPECT_EQ(core::Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(core::Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(core::Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(core::Base64Encode(std::string("\xff\x00\x80", 3)), "/wCA");
}

TEST(K8sHelpersTest, PrintableUtf8) {
  EXPECT_TRUE(IsPrintableUtf8("plain\ttext\r\n"));
  EXPECT_TRUE(IsPrintableUtf8("café ☕ 🚀"));
  EXPECT_FALSE(IsPrintableUtf8(std::string("nul\0", 4)));
  EXPECT_FALSE(IsPrintableUtf8("del\x7f"));
  EXPECT_FALSE(IsPrintableUtf8("esc\x1b[0m"));
  EXPECT_FALSE(IsPrintableUtf8("caf\xe9"));       // Latin-1
  EXPECT_FALSE(IsPrintableUtf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(IsPrintableUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(IsPrintableUtf8("\xc2\x80"));      // C1 control
  EXPECT_TRUE(IsPrintableUtf8("\xc2\x85"));       // NEL is printable in YAML
  EXPECT_FALSE(IsPrintableUtf8("cut \xe2\x98"));  // truncated
}

}  // namespace
}  // namespace stampede::dist
