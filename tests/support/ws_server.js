#!/usr/bin/env node
// A real WebSocket server (the `ws` package from npm) for stampede.ws tests
// (tests/e2e/ws_e2e.py). Listens on 127.0.0.1 (PORT, default 0: any free
// port), over TLS when TLS_CERT and TLS_KEY name PEM files, and prints one
// JSON line {"port": N} once listening. The path picks the behaviour:
//
//   /echo           echoes every message (text stays text, binary binary)
//   /close/CODE     closes with CODE (reason "bye") after the first message
//   /silent         accepts the TCP connection, never answers the handshake
//   /status404      answers the handshake with a plain 404
//   /badaccept      answers 101 with a wrong Sec-WebSocket-Accept
//   /malformed      sends a frame with a reserved bit set after opening
//   /fragmented     sends "Hello, fragmented world" as three fragments,
//                   then a 70000-byte binary message in two fragments
//   /ping           pings the client; on its pong sends "got pong"; echoes
//
// Every handshake is logged to stdout as a JSON line
// {"path": ..., "traceparent": ..., "headers": {...}} (the tests read it).
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

const tls = process.env.TLS_CERT && process.env.TLS_KEY;
const server = tls
  ? https.createServer({ cert: fs.readFileSync(process.env.TLS_CERT),
                         key: fs.readFileSync(process.env.TLS_KEY) })
  : http.createServer();
server.on('request', (req, res) => { res.writeHead(426); res.end('upgrade required\n'); });
const wss = new WebSocketServer({ noServer: true });

function log(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

server.on('upgrade', (req, socket, head) => {
  const path = req.url.split('?')[0];
  log({ path, traceparent: req.headers['traceparent'] || null, headers: req.headers });
  socket.on('error', () => {});
  if (path === '/silent') return;  // never answers (the socket stays open)
  if (path === '/status404') {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  if (path === '/badaccept') {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
                 'Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => serve(ws, path));
});

function serve(ws, path) {
  ws.on('error', () => {});
  if (path === '/echo' || path === '/ping') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    if (path === '/ping') {
      ws.on('pong', () => ws.send('got pong'));
      ws.ping('srv');
    }
  } else if (path.startsWith('/close/')) {
    const code = Number(path.slice('/close/'.length));
    ws.on('message', () => ws.close(code, 'bye'));
  } else if (path === '/malformed') {
    // Text frame "x" with RSV1 set: no extension was negotiated.
    ws._socket.write(Buffer.from([0xC1, 0x01, 0x78]));
  } else if (path === '/fragmented') {
    ws.send('Hello, ', { fin: false });
    ws.send('fragmented ', { fin: false });
    ws.send('world', { fin: true });
    const big = Buffer.alloc(70000, 0x61);
    ws.send(big.subarray(0, 30000), { binary: true, fin: false });
    ws.send(big.subarray(30000), { binary: true, fin: true });
  } else {
    ws.close(4404, 'unknown path');
  }
}

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  log({ port: server.address().port });
});
process.on('SIGTERM', () => process.exit(0));
