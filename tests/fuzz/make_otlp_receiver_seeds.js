#!/usr/bin/env node
// Writes the seed corpus of otlp_receiver_fuzz (corpus/otlp_receiver/):
// real OTLP bodies from the OpenTelemetry JS SDK (tests/support/node_modules),
// protobuf and JSON, plain and gzip, each behind the mode byte that
// otlp_receiver_fuzz.cc reads (bits 0-1: 0 protobuf check, 1 JSON decoder,
// 2 HTTP handler, 3 gRPC handler; HTTP: bits 2-3 path, 4-5 content type,
// 6 gzip, 7 GET), plus a few hand-written JSON shapes the SDK never sends.
//   node tests/fuzz/make_otlp_receiver_seeds.js
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const support = path.join(__dirname, '..', 'support', 'node_modules');
const load = (m) => require(path.join(support, m));
const api = load('@opentelemetry/api');
const {BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor} =
    load('@opentelemetry/sdk-trace-base');
const {JsonTraceSerializer, ProtobufTraceSerializer} = load('@opentelemetry/otlp-transformer');
const {resourceFromAttributes} = load('@opentelemetry/resources');

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({'service.name': 'shop', 'host.name': 'h1'}),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer('seed', '1.0.0');
const server = tracer.startSpan('GET /items/{id}', {kind: api.SpanKind.SERVER, attributes: {
  'http.request.method': 'GET', 'http.response.status_code': 200, 'ratio': 0.25, 'ok': false,
  'tags': ['a', 'b'], 'ids': [1, 2], 'flags': [true, false], 'weights': [1.5, -2]}});
const ctx = api.trace.setSpan(api.ROOT_CONTEXT, server);
const child = tracer.startSpan('SELECT', {kind: api.SpanKind.CLIENT,
  links: [{context: server.spanContext(), attributes: {'k': 'v'}}]}, ctx);
child.addEvent('rows', {count: 3});
child.recordException(new Error('boom'));
child.setStatus({code: api.SpanStatusCode.ERROR, message: 'slow'});
child.end();
server.end();
tracer.startSpan('other trace').end();
const spans = exporter.getFinishedSpans();
const protobuf = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans));
const json = Buffer.from(JsonTraceSerializer.serializeRequest(spans));

const handWritten = Buffer.from(JSON.stringify({resourceSpans: [{scopeSpans: [{spans: [{
  traceId: '5B8EFFF798038103D269B633813FC60C', spanId: 'EEE19B7EC3C1B174', kind: 'SPAN_KIND_SERVER',
  startTimeUnixNano: 1700000000000000000, flags: '257',
  attributes: [
    {key: 'b', value: {bytesValue: 'AP8QIA=='}},
    {key: 'd', value: {doubleValue: 'NaN'}},
    {key: 'i', value: {intValue: '-9223372036854775808'}},
    {key: 'kv', value: {kvlistValue: {values: [{key: 'x', value: {arrayValue: {values: [{}]}}}]}}},
  ],
  status: {code: 2, message: null}, unknown: {nested: [1, [2]]}}]}]}]}));

const seeds = {
  'proto_js': [0x00, protobuf],
  'json_js': [0x01, json],
  'json_hand': [0x01, handWritten],
  'http_proto': [0x02, protobuf],
  'http_json': [0x12, json],
  'http_proto_gzip': [0x42, zlib.gzipSync(protobuf)],
  'http_json_gzip': [0x52, zlib.gzipSync(json)],
  'http_metrics': [0x0a, Buffer.from([0x0a, 0x00])],
  'grpc_traces': [0x03, protobuf],
  'grpc_metrics': [0x07, Buffer.alloc(0)],
};
const dir = path.join(__dirname, 'corpus', 'otlp_receiver');
fs.mkdirSync(dir, {recursive: true});
for (const [name, [mode, body]] of Object.entries(seeds)) {
  fs.writeFileSync(path.join(dir, name), Buffer.concat([Buffer.from([mode]), body]));
}
console.log(`wrote ${Object.keys(seeds).length} seeds to ${dir}`);
