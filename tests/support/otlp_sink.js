#!/usr/bin/env node
// OTLP trace and metrics sink for stampede's integration tests.
//
// Listens on 127.0.0.1 (ephemeral ports) for OTLP/HTTP (POST /v1/traces and
// POST /v1/metrics, application/x-protobuf or application/json, optionally
// gzip-encoded) and OTLP/gRPC (opentelemetry.proto.collector.trace.v1.TraceService/Export
// and opentelemetry.proto.collector.metrics.v1.MetricsService/Export, raw bytes
// decoded with the protobufjs root shipped by @opentelemetry/otlp-transformer).
// Prints
//   listening http PORT grpc PORT
// once both listeners are ready, then appends one JSON line per received span
// to --out FILE:
//   {"transport":"http/protobuf"|"http/json"|"grpc","trace_id":hex,"span_id":hex,
//    "parent_span_id":hex|"", "name", "kind":int, "start_ns":"..", "end_ns":"..",
//    "attributes":{k:v}, "events":[{"name","time_ns","attributes"}],
//    "status":{"code":int,"message":str}, "resource":{k:v}, "scope":{"name","version"}}
// and one JSON line per received metric data point to --metrics-out FILE:
//   {"transport", "metric":name, "unit", "description",
//    "type":"sum"|"gauge"|"histogram"|"exponential_histogram"|"summary",
//    "temporality":int (AggregationTemporality: 1 delta, 2 cumulative, 0 for gauges),
//    "monotonic":bool (Sum.is_monotonic; false otherwise),
//    "attributes":{k:v}, "resource":{k:v}, "scope":{"name","version","attributes"},
//    "start_ns":"..", "time_ns":"..", "flags":int,
//    "exemplars":[{"trace_id":hex,"span_id":hex,"value":num,"time_ns":"..","attributes":{k:v}}],
//    sum/gauge: "value":number;
//    histogram: "count","sum","min","max" (null when absent),"bounds":[..],"bucket_counts":[..];
//    exponential_histogram: "count","sum","min","max","scale","zero_count","zero_threshold",
//      "positive":{"offset","bucket_counts":[..]},"negative":{"offset","bucket_counts":[..]};
//    summary: "count","sum","quantiles":[{"quantile","value"}]}
// (int64 counts and values become JSON numbers; times stay decimal strings).
//
// Fault injection (the first --fault-count export requests, default all; with
// --fault-signal traces|metrics only requests of that signal are faulted and
// counted, default all):
//   --mode ok              answer 200 (default)
//   --mode slow --delay-ms N   wait N ms, then answer 200
//   --mode 503 [--retry-after S]  HTTP 503 (+Retry-After) / gRPC UNAVAILABLE
//   --mode 429 [--retry-after S]  HTTP 429 (+Retry-After) / gRPC RESOURCE_EXHAUSTED
//     (gRPC: --retry-after adds a google.rpc.RetryInfo in grpc-status-details-bin;
//     S may be fractional there)
//   --mode 400             HTTP 400 with a google.rpc.Status / gRPC INVALID_ARGUMENT
//   --mode partial --rejected N   200 with partial_success{rejected_spans: N}
//                          (metrics: {rejected_data_points: N}); the data is recorded
//   --mode close           drop the connection without an answer (gRPC: UNAVAILABLE)
// GET /__stats answers {"requests":{"200":n,...},"grpc":{"0":n,...},"spans":n,
// "http_connections":n (TCP connections accepted, this one included),
// "last_headers":{...} (of the last trace export),
// "metric_requests":n (metrics export requests received, HTTP and gRPC, faulted ones included),
// "metric_replies":{"200":n,"503":n,"closed":n,"grpc 0":n,"grpc 14":n,...},
// "points":n (metric data points recorded), "last_metric_headers":{...}}.
// "requests"/"grpc" count the answers to both signals. --max-seconds N exits
// on its own after N seconds.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const zlib = require('zlib');
const grpc = require('@grpc/grpc-js');

function findRoot() {
  // The generated static protobufjs module inside otlp-transformer.
  const pkgDir = path.dirname(require.resolve('@opentelemetry/otlp-transformer/package.json'));
  for (const rel of ['build/src/generated/root.js', 'build/esm/generated/root.js']) {
    const p = path.join(pkgDir, rel);
    if (fs.existsSync(p)) return require(p);
  }
  throw new Error('no generated protobufjs root in @opentelemetry/otlp-transformer');
}

const root = findRoot();
const ExportTraceServiceRequest =
  root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const ExportMetricsServiceRequest =
  root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
const AggregationTemporality = root.opentelemetry.proto.metrics.v1.AggregationTemporality;

function parseArgs(argv) {
  const opts = {
    out: null, metricsOut: null, mode: 'ok', delayMs: 0, retryAfter: null, faultCount: Infinity,
    faultSignal: 'all', rejected: 1, maxSeconds: 300, tlsCert: null, tlsKey: null,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--out': opts.out = next(); break;
      case '--metrics-out': opts.metricsOut = next(); break;
      case '--fault-signal': opts.faultSignal = next(); break;
      case '--mode': opts.mode = next(); break;
      case '--delay-ms': opts.delayMs = Number(next()); break;
      case '--retry-after': opts.retryAfter = next(); break;
      case '--fault-count': opts.faultCount = Number(next()); break;
      case '--rejected': opts.rejected = Number(next()); break;
      case '--max-seconds': opts.maxSeconds = Number(next()); break;
      // HTTPS and gRPC over TLS with this PEM certificate and key.
      case '--tls-cert': opts.tlsCert = next(); break;
      case '--tls-key': opts.tlsKey = next(); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  const modes = ['ok', 'slow', '503', '429', '400', 'partial', 'close'];
  if (!modes.includes(opts.mode)) throw new Error(`--mode must be one of ${modes.join('|')}`);
  const signals = ['all', 'traces', 'metrics'];
  if (!signals.includes(opts.faultSignal)) {
    throw new Error(`--fault-signal must be one of ${signals.join('|')}`);
  }
  return opts;
}

const opts = parseArgs(process.argv);
const stats = {
  requests: {}, grpc: {}, spans: 0, http_connections: 0, last_headers: {},
  metric_requests: 0, metric_replies: {}, points: 0, last_metric_headers: {},
};
let faultsLeft = opts.faultCount;

// Returns the fault mode for this request of `signal` ('traces'|'metrics'),
// consuming one fault.
function currentMode(signal) {
  if (opts.mode === 'ok') return 'ok';
  if (opts.faultSignal !== 'all' && opts.faultSignal !== signal) return 'ok';
  if (faultsLeft <= 0) return 'ok';
  faultsLeft--;
  return opts.mode;
}

// ---- normalisation of decoded requests into span lines ----

function idToHex(v, fromJson) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') {
    return fromJson ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex');
  }
  return Buffer.from(v).toString('hex');
}

function anyValue(v) {
  if (!v) return null;
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  if (v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
  if (v.doubleValue !== undefined && v.doubleValue !== null) return Number(v.doubleValue);
  if (v.arrayValue) return (v.arrayValue.values || []).map(anyValue);
  if (v.kvlistValue) return flatten(v.kvlistValue.values);
  if (v.bytesValue) return String(v.bytesValue);
  return null;
}

function flatten(kvs) {
  const out = {};
  for (const kv of kvs || []) out[kv.key] = anyValue(kv.value);
  return out;
}

function spanLines(req, transport, fromJson) {
  const lines = [];
  for (const rs of req.resourceSpans || []) {
    const resource = flatten(rs.resource && rs.resource.attributes);
    for (const ss of rs.scopeSpans || []) {
      const scope = { name: (ss.scope && ss.scope.name) || '', version: (ss.scope && ss.scope.version) || '' };
      for (const s of ss.spans || []) {
        lines.push(JSON.stringify({
          transport,
          trace_id: idToHex(s.traceId, fromJson),
          span_id: idToHex(s.spanId, fromJson),
          parent_span_id: idToHex(s.parentSpanId, fromJson),
          name: s.name || '',
          kind: Number(s.kind || 0),
          flags: Number(s.flags || 0),
          start_ns: String(s.startTimeUnixNano || '0'),
          end_ns: String(s.endTimeUnixNano || '0'),
          attributes: flatten(s.attributes),
          events: (s.events || []).map((e) => ({
            name: e.name || '', time_ns: String(e.timeUnixNano || '0'), attributes: flatten(e.attributes),
          })),
          status: { code: Number((s.status && s.status.code) || 0), message: (s.status && s.status.message) || '' },
          resource,
          scope,
        }));
      }
    }
  }
  return lines;
}

function record(lines) {
  stats.spans += lines.length;
  if (opts.out && lines.length > 0) fs.appendFileSync(opts.out, lines.join('\n') + '\n');
}

function decodeProtobuf(buf) {
  const msg = ExportTraceServiceRequest.decode(buf);
  return ExportTraceServiceRequest.toObject(msg, { longs: String, enums: Number, bytes: String });
}

// ---- normalisation of decoded metrics requests into data point lines ----

// int64/uint64/double fields arrive as strings (protobuf with longs: String,
// or OTLP/JSON's int64 encoding) or numbers; OTLP/JSON may spell non-finite
// doubles as "NaN"/"Infinity"/"-Infinity".
function num(v) {
  if (v === undefined || v === null) return null;
  return Number(v);
}

// An enum in OTLP/JSON should be an integer, but accept its name too.
function temporalityOf(v) {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string' && !/^[0-9]+$/.test(v)) {
    return AggregationTemporality[v] !== undefined ? AggregationTemporality[v] : -1;
  }
  return Number(v);
}

function numberValue(p) {
  if (p.asDouble !== undefined && p.asDouble !== null) return num(p.asDouble);
  if (p.asInt !== undefined && p.asInt !== null) return num(p.asInt);
  return null;
}

function exemplars(list, fromJson) {
  return (list || []).map((e) => ({
    trace_id: idToHex(e.traceId, fromJson),
    span_id: idToHex(e.spanId, fromJson),
    value: numberValue(e),
    time_ns: String(e.timeUnixNano || '0'),
    attributes: flatten(e.filteredAttributes),
  }));
}

function buckets(b) {
  return { offset: Number((b && b.offset) || 0), bucket_counts: ((b && b.bucketCounts) || []).map(Number) };
}

function pointLines(req, transport, fromJson) {
  const lines = [];
  for (const rm of req.resourceMetrics || []) {
    const resource = flatten(rm.resource && rm.resource.attributes);
    for (const sm of rm.scopeMetrics || []) {
      const scope = {
        name: (sm.scope && sm.scope.name) || '',
        version: (sm.scope && sm.scope.version) || '',
        attributes: flatten(sm.scope && sm.scope.attributes),
      };
      for (const m of sm.metrics || []) {
        let type = null;
        let data = null;
        for (const [key, t] of [['sum', 'sum'], ['gauge', 'gauge'], ['histogram', 'histogram'],
          ['exponentialHistogram', 'exponential_histogram'], ['summary', 'summary']]) {
          if (m[key]) { type = t; data = m[key]; break; }
        }
        if (!data) continue;  // a metric without data: nothing to record
        for (const p of data.dataPoints || []) {
          const line = {
            transport,
            metric: m.name || '',
            unit: m.unit || '',
            description: m.description || '',
            type,
            temporality: temporalityOf(data.aggregationTemporality),
            monotonic: type === 'sum' ? Boolean(data.isMonotonic) : false,
            attributes: flatten(p.attributes),
            resource,
            scope,
            start_ns: String(p.startTimeUnixNano || '0'),
            time_ns: String(p.timeUnixNano || '0'),
            flags: Number(p.flags || 0),
            exemplars: exemplars(p.exemplars, fromJson),
          };
          if (type === 'sum' || type === 'gauge') {
            line.value = numberValue(p);
          } else {
            line.count = Number(p.count || 0);
            line.sum = num(p.sum);
          }
          if (type === 'histogram' || type === 'exponential_histogram') {
            line.min = num(p.min);
            line.max = num(p.max);
          }
          if (type === 'histogram') {
            line.bounds = (p.explicitBounds || []).map(Number);
            line.bucket_counts = (p.bucketCounts || []).map(Number);
          } else if (type === 'exponential_histogram') {
            line.scale = Number(p.scale || 0);
            line.zero_count = Number(p.zeroCount || 0);
            line.zero_threshold = Number(p.zeroThreshold || 0);
            line.positive = buckets(p.positive);
            line.negative = buckets(p.negative);
          } else if (type === 'summary') {
            line.quantiles = (p.quantileValues || []).map((q) => ({
              quantile: Number(q.quantile || 0), value: Number(q.value || 0),
            }));
          }
          lines.push(JSON.stringify(line));
        }
      }
    }
  }
  return lines;
}

function recordPoints(lines) {
  stats.points += lines.length;
  if (opts.metricsOut && lines.length > 0) {
    fs.appendFileSync(opts.metricsOut, lines.join('\n') + '\n');
  }
}

function decodeMetricsProtobuf(buf) {
  const msg = ExportMetricsServiceRequest.decode(buf);
  return ExportMetricsServiceRequest.toObject(msg, { longs: String, enums: Number, bytes: String });
}

// What differs between the two signals; the transports and faults are shared.
const SIGNALS = {
  traces: {
    decodeProtobuf,
    lines: spanLines,
    record,
    rejectedJsonKey: 'rejectedSpans',
  },
  metrics: {
    decodeProtobuf: decodeMetricsProtobuf,
    lines: pointLines,
    record: recordPoints,
    rejectedJsonKey: 'rejectedDataPoints',
  },
};

// google.rpc.Status{code=1 (int32), message=2 (string)}, hand-encoded.
function rpcStatus(code, message) {
  const m = Buffer.from(message, 'utf8');
  const len = [];
  let n = m.length;
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; len.push(b); } while (n);
  return Buffer.concat([Buffer.from([0x08, code, 0x12, ...len]), m]);
}

function varint(n) {
  const out = [];
  do { let b = n % 128; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n);
  return out;
}

function field(number, payload) {
  return Buffer.concat([Buffer.from([(number << 3) | 2, ...varint(payload.length)]), payload]);
}

// google.rpc.Status{code, message, details: [Any{google.rpc.RetryInfo{
// retry_delay: Duration{seconds, nanos}}}]}, the grpc-status-details-bin value.
function retryInfoStatus(code, message, delaySeconds) {
  const seconds = Math.floor(delaySeconds);
  const nanos = Math.round((delaySeconds - seconds) * 1e9);
  const duration = Buffer.from([0x08, ...varint(seconds), ...(nanos ? [0x10, ...varint(nanos)] : [])]);
  const retryInfo = field(1, duration);
  const any = Buffer.concat([field(1, Buffer.from('type.googleapis.com/google.rpc.RetryInfo')),
    field(2, retryInfo)]);
  return Buffer.concat([Buffer.from([0x08, code]), field(2, Buffer.from(message)), field(3, any)]);
}

// ExportTracePartialSuccess{rejected_spans=1, error_message=2} inside
// ExportTraceServiceResponse{partial_success=1}; ExportMetricsPartialSuccess
// {rejected_data_points=1, error_message=2} has the same field numbers.
function partialSuccess(rejected, message) {
  const inner = Buffer.concat([Buffer.from([0x08, ...varint(rejected)]), field(2, Buffer.from(message, 'utf8'))]);
  return field(1, inner);
}

function count(table, key) { table[key] = (table[key] || 0) + 1; }

// ---- OTLP/HTTP ----

const HTTP_PATHS = { '/v1/traces': 'traces', '/v1/metrics': 'metrics' };

function handleHttp(req, res) {
  if (req.method === 'GET' && req.url === '/__stats') {
    const body = Buffer.from(JSON.stringify(stats), 'utf8');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const signal = req.method === 'POST' ? HTTP_PATHS[req.url] : undefined;
    if (!signal) {
      count(stats.requests, '404');
      res.writeHead(404);
      res.end();
      return;
    }
    const sig = SIGNALS[signal];
    if (signal === 'traces') {
      stats.last_headers = req.headers;
    } else {
      stats.metric_requests++;
      stats.last_metric_headers = req.headers;
    }
    const answered = (key) => {
      count(stats.requests, key);
      if (signal === 'metrics') count(stats.metric_replies, key);
    };
    const mode = currentMode(signal);
    const isJson = (req.headers['content-type'] || '').startsWith('application/json');
    const reply = (status, headers, body) => {
      answered(String(status));
      res.writeHead(status, headers);
      res.end(body);
    };
    if (mode === 'close') {
      answered('closed');
      req.socket.destroy();
      return;
    }
    if (mode === '503' || mode === '429') {
      const h = { 'Content-Type': 'application/x-protobuf' };
      if (opts.retryAfter !== null) h['Retry-After'] = opts.retryAfter;
      reply(Number(mode), h, rpcStatus(mode === '503' ? 14 : 8, `sink fault ${mode}`));
      return;
    }
    if (mode === '400') {
      if (isJson) {
        reply(400, { 'Content-Type': 'application/json' },
          JSON.stringify({ code: 3, message: 'sink fault 400: bad data' }));
      } else {
        reply(400, { 'Content-Type': 'application/x-protobuf' }, rpcStatus(3, 'sink fault 400: bad data'));
      }
      return;
    }
    let body = Buffer.concat(chunks);
    let lines;
    try {
      if ((req.headers['content-encoding'] || '') === 'gzip') body = zlib.gunzipSync(body);
      lines = isJson
        ? sig.lines(JSON.parse(body.toString('utf8')), 'http/json', true)
        : sig.lines(sig.decodeProtobuf(body), 'http/protobuf', false);
    } catch (e) {
      reply(400, { 'Content-Type': 'application/x-protobuf' }, rpcStatus(3, `sink cannot decode: ${e.message}`));
      return;
    }
    const finish = () => {
      sig.record(lines);
      if (mode === 'partial') {
        if (isJson) {
          reply(200, { 'Content-Type': 'application/json' }, JSON.stringify(
            { partialSuccess: { [sig.rejectedJsonKey]: String(opts.rejected), errorMessage: 'sink rejected some' } }));
        } else {
          reply(200, { 'Content-Type': 'application/x-protobuf' }, partialSuccess(opts.rejected, 'sink rejected some'));
        }
      } else if (isJson) {
        reply(200, { 'Content-Type': 'application/json' }, '{}');
      } else {
        reply(200, { 'Content-Type': 'application/x-protobuf' }, Buffer.alloc(0));
      }
    };
    if (mode === 'slow') setTimeout(finish, opts.delayMs); else finish();
  });
}

// ---- OTLP/gRPC ----

const identity = (b) => b;
function rawService(servicePath) {
  return {
    Export: {
      path: `/${servicePath}/Export`,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
}
const traceService = rawService('opentelemetry.proto.collector.trace.v1.TraceService');
const metricsService = rawService('opentelemetry.proto.collector.metrics.v1.MetricsService');

function grpcExport(signal, call, callback) {
  const sig = SIGNALS[signal];
  if (signal === 'traces') {
    stats.last_headers = call.metadata.getMap();
  } else {
    stats.metric_requests++;
    stats.last_metric_headers = call.metadata.getMap();
  }
  const answered = (code) => {
    count(stats.grpc, String(code));
    if (signal === 'metrics') count(stats.metric_replies, `grpc ${code}`);
  };
  const mode = currentMode(signal);
  const fail = (code, details) => {
    answered(code);
    const metadata = new grpc.Metadata();
    // With --retry-after, throttling answers carry a google.rpc.RetryInfo.
    if (opts.retryAfter !== null && (mode === '503' || mode === '429')) {
      metadata.set('grpc-status-details-bin', retryInfoStatus(code, details, Number(opts.retryAfter)));
    }
    callback({ code, details, metadata });
  };
  if (mode === '503' || mode === 'close') return fail(grpc.status.UNAVAILABLE, `sink fault ${mode}`);
  if (mode === '429') return fail(grpc.status.RESOURCE_EXHAUSTED, 'sink fault 429');
  if (mode === '400') return fail(grpc.status.INVALID_ARGUMENT, 'sink fault 400: bad data');
  let lines;
  try {
    lines = sig.lines(sig.decodeProtobuf(call.request), 'grpc', false);
  } catch (e) {
    return fail(grpc.status.INVALID_ARGUMENT, `sink cannot decode: ${e.message}`);
  }
  const finish = () => {
    sig.record(lines);
    answered(0);
    callback(null, mode === 'partial' ? partialSuccess(opts.rejected, 'sink rejected some') : Buffer.alloc(0));
  };
  if (mode === 'slow') setTimeout(finish, opts.delayMs); else finish();
}

// ---- start ----

const tls = opts.tlsCert && opts.tlsKey
  ? { cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) } : null;
const httpServer = tls ? require('https').createServer(tls, handleHttp)
                       : http.createServer(handleHttp);
httpServer.keepAliveTimeout = 30000;
// Counts TCP connections (keep-alive checks); /__stats' own are included.
httpServer.on('connection', () => { stats.http_connections++; });
const grpcServer = new grpc.Server();
grpcServer.addService(traceService, { Export: (call, cb) => grpcExport('traces', call, cb) });
grpcServer.addService(metricsService, { Export: (call, cb) => grpcExport('metrics', call, cb) });

httpServer.listen(0, '127.0.0.1', () => {
  const httpPort = httpServer.address().port;
  const creds = tls
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false)
    : grpc.ServerCredentials.createInsecure();
  grpcServer.bindAsync('127.0.0.1:0', creds, (err, grpcPort) => {
    if (err) {
      console.error(`otlp_sink: gRPC bind failed: ${err.message}`);
      process.exit(1);
    }
    process.stdout.write(`listening http ${httpPort} grpc ${grpcPort}\n`);
  });
});

const stop = () => {
  grpcServer.forceShutdown();
  httpServer.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setTimeout(stop, opts.maxSeconds * 1000).unref();
