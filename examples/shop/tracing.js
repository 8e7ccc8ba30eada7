'use strict';
// OpenTelemetry set-up for the shop. This module MUST be required before
// anything loads `node:http`, because @opentelemetry/instrumentation-http
// patches the module when it is first required.
//
// What it does:
// - registers a NodeTracerProvider with the W3C tracecontext + baggage
//   propagators, so incoming requests carrying `traceparent` become SERVER
//   spans that continue the caller's trace;
// - exports spans over OTLP (OTEL_EXPORTER_OTLP_{,TRACES_}PROTOCOL:
//   http/protobuf by default, http/json or grpc), but only when
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set
//   (otherwise no exporter exists and no network connection is ever attempted);
// - honours the standard variables through the SDK itself: OTEL_SERVICE_NAME,
//   OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*,
//   OTEL_EXPORTER_OTLP_{,TRACES_}{HEADERS,TIMEOUT,COMPRESSION,...},
//   OTEL_TRACES_EXPORTER=none|console, OTEL_SDK_DISABLED, OTEL_LOG_LEVEL.

try {
  require.resolve('@opentelemetry/api');
} catch {
  process.stderr.write(`shop: dependencies missing; run "npm ci" in ${__dirname}\n`);
  process.exit(2);
}

const api = require('@opentelemetry/api');

const kDefaultServiceName = 'shop';

function envString(name) {
  const value = process.env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function setUpDiagnostics() {
  const level = envString('OTEL_LOG_LEVEL');
  if (!level) return;
  const levels = {
    NONE: api.DiagLogLevel.NONE,
    ERROR: api.DiagLogLevel.ERROR,
    WARN: api.DiagLogLevel.WARN,
    INFO: api.DiagLogLevel.INFO,
    DEBUG: api.DiagLogLevel.DEBUG,
    VERBOSE: api.DiagLogLevel.VERBOSE,
    ALL: api.DiagLogLevel.ALL,
  };
  const parsed = levels[level.toUpperCase()];
  if (parsed === undefined) return;
  // A logger that writes to stderr only: stdout carries the "listening on"
  // line that tests and scripts read.
  const write = (kind) => (message, ...args) =>
    process.stderr.write(`otel ${kind}: ${message} ${args.map(String).join(' ')}\n`);
  api.diag.setLogger(
    {
      error: write('error'),
      warn: write('warn'),
      info: write('info'),
      debug: write('debug'),
      verbose: write('verbose'),
    },
    parsed,
  );
}

// Returns the span exporter to use, or null for none.
function createExporter() {
  const choice = (envString('OTEL_TRACES_EXPORTER') || 'otlp').toLowerCase();
  if (choice === 'none') return null;
  if (choice === 'console') {
    const { ConsoleSpanExporter } = require('@opentelemetry/sdk-trace-node');
    return new ConsoleSpanExporter();
  }
  if (choice !== 'otlp') {
    process.stderr.write(`shop: OTEL_TRACES_EXPORTER=${choice} is not supported; using otlp\n`);
  }
  const endpoint =
    envString('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') || envString('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (!endpoint) return null; // The point: no endpoint, no network attempts.
  const protocol =
    envString('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ||
    envString('OTEL_EXPORTER_OTLP_PROTOCOL') ||
    'http/protobuf';
  // The three OTLP transports of the specification, each the SDK's own
  // exporter. No options: each reads the endpoint (appending /v1/traces to
  // the generic one for HTTP, using the per-signal one as is), headers,
  // timeout and compression from the environment, as the specification says.
  const packages = {
    'http/protobuf': '@opentelemetry/exporter-trace-otlp-proto',
    'http/json': '@opentelemetry/exporter-trace-otlp-http',
    grpc: '@opentelemetry/exporter-trace-otlp-grpc',
  };
  let name = packages[protocol];
  if (!name) {
    process.stderr.write(`shop: OTLP protocol ${protocol} is not supported; using http/protobuf\n`);
    name = packages['http/protobuf'];
  }
  const { OTLPTraceExporter } = require(name);
  return new OTLPTraceExporter();
}

function createResource() {
  const { defaultResource, resourceFromAttributes, detectResources, envDetector } =
    require('@opentelemetry/resources');
  // Later merges win: SDK defaults < our default name < OTEL_RESOURCE_ATTRIBUTES
  // < OTEL_SERVICE_NAME (the env detector applies that precedence itself).
  return defaultResource()
    .merge(resourceFromAttributes({ 'service.name': kDefaultServiceName }))
    .merge(detectResources({ detectors: [envDetector] }));
}

function setUp() {
  setUpDiagnostics();
  const disabled = (envString('OTEL_SDK_DISABLED') || '').toLowerCase() === 'true';
  if (disabled) {
    return { exporting: false, shutdown: async () => {} };
  }
  const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');

  const exporter = createExporter();
  const spanProcessors = exporter ? [new BatchSpanProcessor(exporter)] : [];
  const provider = new NodeTracerProvider({ resource: createResource(), spanProcessors });
  provider.register(); // AsyncLocalStorage context manager + W3C propagators.

  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        // Readiness probes would only add noise to the traces.
        ignoreIncomingRequestHook: (req) => req.url === '/health',
      }),
    ],
  });

  let shutdownPromise = null;
  return {
    exporting: exporter !== null,
    // Flushes the batch processor and shuts the exporter down. Idempotent.
    shutdown() {
      if (!shutdownPromise) shutdownPromise = provider.shutdown();
      return shutdownPromise;
    },
  };
}

const telemetry = setUp();

module.exports = {
  tracer: api.trace.getTracer('stampede-shop', '0.1.0'),
  exporting: telemetry.exporting,
  shutdown: telemetry.shutdown,
};
