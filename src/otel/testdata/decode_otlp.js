#!/usr/bin/env node
// Independent decoder for otel_decode_test: decodes an OTLP
// ExportTraceServiceRequest, or with a second argument `metrics` an
// ExportMetricsServiceRequest (protobuf bytes in the file given as argv[2]),
// with the protobufjs root generated from opentelemetry-proto and shipped by
// @opentelemetry/otlp-transformer, and prints it as JSON on stdout: ids
// (spans', links' and exemplars') as lowercase hex, 64-bit integers as
// decimal strings, enums as numbers.
'use strict';

const fs = require('fs');
const path = require('path');

// The generated root is not in the package's "exports", so load it by path.
const root = require(path.join(
    __dirname, 'node_modules', '@opentelemetry', 'otlp-transformer', 'build', 'src',
    'generated', 'root.js'));

const REQUESTS = {
  traces: root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest,
  metrics: root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest,
};

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

// toObject gives bytes as base64 strings; ids become hex, other bytes stay
// base64 (the OTLP/JSON rule).
function hexIds(value, key) {
  if (Array.isArray(value)) return value.map((v) => hexIds(v));
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = hexIds(v, k);
    return out;
  }
  if (ID_FIELDS.has(key) && typeof value === 'string') {
    return Buffer.from(value, 'base64').toString('hex');
  }
  return value;
}

function main() {
  const Request = REQUESTS[process.argv[3] || 'traces'];
  if (process.argv.length < 3 || process.argv.length > 4 || Request === undefined) {
    process.stderr.write('usage: decode_otlp.js <request.bin> [traces|metrics]\n');
    process.exit(2);
  }
  const bytes = fs.readFileSync(process.argv[2]);
  const message = Request.decode(bytes);
  const object = Request.toObject(message, {
    longs: String,
    enums: Number,
    bytes: String,
    defaults: false,
    arrays: false,
    oneofs: false,
  });
  process.stdout.write(JSON.stringify(hexIds(object)) + '\n');
}

main();
