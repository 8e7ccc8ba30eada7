#!/usr/bin/env node
// OTLP trace sink for stampede's integration tests.
//
// Listens on 127.0.0.1 (ephemeral ports) for OTLP/HTTP (POST /v1/traces,
// application/x-protobuf or application/json, optionally gzip-encoded) and
// OTLP/gRPC (opentelemetry.proto.collector.trace.v1.TraceService/Export, raw
// bytes decoded with the protobufjs root shipped by
// @opentelemetry/otlp-transformer). Prints
//   listening http PORT grpc PORT
// once both listeners are ready, then appends one JSON line per received span
// to --out FILE:
//   {"transport":"http/protobuf"|"http/json"|"grpc","trace_id":hex,"span_id":hex,
//    "parent_span_id":hex|"", "name", "kind":int, "start_ns":"..", "end_ns":"..",
//    "attributes":{k:v}, "events":[{"name","time_ns","attributes"}],
//    "status":{"code":int,"message":str}, "resource":{k:v}, "scope":{"name","version"}}
//
// Fault injection (the first --fault-count requests, default all):
//   --mode ok              answer 200 (default)
//   --mode slow --delay-ms N   wait N ms, then answer 200
//   --mode 503 [--retry-after S]  HTTP 503 (+Retry-After) / gRPC UNAVAILABLE
//   --mode 429 [--retry-after S]  HTTP 429 (+Retry-After) / gRPC RESOURCE_EXHAUSTED
//     (gRPC: --retry-after adds a google.rpc.RetryInfo in grpc-status-details-bin;
//     S may be fractional there)
//   --mode 400             HTTP 400 with a google.rpc.Status / gRPC INVALID_ARGUMENT
//   --mode partial --rejected N   200 with partial_success{rejected_spans: N}
//   --mode close           drop the connection without an answer (gRPC: UNAVAILABLE)
// GET /__stats answers {"requests":{"200":n,...},"grpc":{"0":n,...},"spans":n,
// "http_connections":n (TCP connections accepted, this one included),
// "last_headers":{...}}. --max-seconds N exits on its own after N seconds.
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

function parseArgs(argv) {
  const opts = {
    out: null, mode: 'ok', delayMs: 0, retryAfter: null, faultCount: Infinity,
    rejected: 1, maxSeconds: 300, tlsCert: null, tlsKey: null,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--out': opts.out = next(); break;
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
  return opts;
}

const opts = parseArgs(process.argv);
const stats = { requests: {}, grpc: {}, spans: 0, http_connections: 0, last_headers: {} };
let faultsLeft = opts.faultCount;

// Returns the fault mode for this request, consuming one fault.
function currentMode() {
  if (opts.mode === 'ok') return 'ok';
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

// ExportTracePartialSuccess inside ExportTraceServiceResponse.
function partialSuccess(rejected, message) {
  const m = Buffer.from(message, 'utf8');
  const inner = Buffer.concat([Buffer.from([0x08, rejected, 0x12, m.length]), m]);
  return Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
}

function count(table, key) { table[key] = (table[key] || 0) + 1; }

// ---- OTLP/HTTP ----

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
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      count(stats.requests, '404');
      res.writeHead(404);
      res.end();
      return;
    }
    stats.last_headers = req.headers;
    const mode = currentMode();
    const isJson = (req.headers['content-type'] || '').startsWith('application/json');
    const reply = (status, headers, body) => {
      count(stats.requests, String(status));
      res.writeHead(status, headers);
      res.end(body);
    };
    if (mode === 'close') {
      count(stats.requests, 'closed');
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
        ? spanLines(JSON.parse(body.toString('utf8')), 'http/json', true)
        : spanLines(decodeProtobuf(body), 'http/protobuf', false);
    } catch (e) {
      reply(400, { 'Content-Type': 'application/x-protobuf' }, rpcStatus(3, `sink cannot decode: ${e.message}`));
      return;
    }
    const finish = () => {
      record(lines);
      if (mode === 'partial') {
        if (isJson) {
          reply(200, { 'Content-Type': 'application/json' }, JSON.stringify(
            { partialSuccess: { rejectedSpans: String(opts.rejected), errorMessage: 'sink rejected some' } }));
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
const traceService = {
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

function grpcExport(call, callback) {
  stats.last_headers = call.metadata.getMap();
  const mode = currentMode();
  const fail = (code, details) => {
    count(stats.grpc, String(code));
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
    lines = spanLines(decodeProtobuf(call.request), 'grpc', false);
  } catch (e) {
    return fail(grpc.status.INVALID_ARGUMENT, `sink cannot decode: ${e.message}`);
  }
  const finish = () => {
    record(lines);
    count(stats.grpc, '0');
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
grpcServer.addService(traceService, { Export: grpcExport });

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
