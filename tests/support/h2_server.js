// An HTTP/2 server (Node's own http2 module, which is nghttp2) that misbehaves
// on request, for stampede's HTTP/2 tests. h2c with prior knowledge on
// 127.0.0.1, port 0; prints {"port": N} on stdout once listening, then serves
// until stdin closes (the test ending) or SIGTERM.
//
// Paths:
//   /ok        200 "ok"
//   /headers   200, {headers, body: its length} as JSON (what went over the wire)
//   /counts    requests per path so far, and sessions (connections)
//   /reset     resets the stream with INTERNAL_ERROR before answering
//   /refuse    resets the stream with REFUSED_STREAM (never processed)
//   /stall     never answers (the client's timeout must end it)
//   /slow      answers after ~200 ms (a stream that outlives a stalled one)
'use strict';
const http2 = require('http2');

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;
const counts = { sessions: 0, ok: 0, headers: 0, reset: 0, refuse: 0, stall: 0, slow: 0 };

const server = http2.createServer();
server.on('session', () => counts.sessions++);
server.on('stream', (stream, headers) => {
  const path = headers[':path'];
  stream.on('error', () => {});  // a client's RST_STREAM(CANCEL) is not our error
  switch (path) {
    case '/ok':
      counts.ok++;
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('ok');
      return;
    case '/headers': {
      counts.headers++;
      let body = 0;
      stream.on('data', (chunk) => { body += chunk.length; });
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ headers, body }));
      });
      return;
    }
    case '/reset':
      counts.reset++;
      stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    case '/refuse':
      counts.refuse++;
      stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    case '/stall':
      counts.stall++;
      return;
    case '/slow':
      counts.slow++;
      setTimeout(() => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200 });
        stream.end('slow');
      }, 200);
      return;
    case '/counts':
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify(counts));
      return;
    default:
      stream.respond({ ':status': 404 });
      stream.end();
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
