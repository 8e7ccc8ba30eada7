'use strict';
// Tests for the demo shop: `node --test test/` (or `npm test`).
// Every server here listens on 127.0.0.1 with an ephemeral port; nothing
// leaves the machine. No fixed sleeps: we wait for the "listening on" line,
// for responses and for process exits.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');
const zlib = require('node:zlib');

const kServer = path.join(__dirname, '..', 'server.js');
const kStartTimeoutMs = 20000;

// Every shop started, so that none outlives the tests even when one fails.
const running = new Set();
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

// ---------------------------------------------------------------- helpers

// The parent's environment without any OTEL_* or SHOP_* variable, so the
// developer's shell cannot change what a test sees.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('OTEL_') && !k.startsWith('SHOP_') && k !== 'PORT' && k !== 'HOST') env[k] = v;
  }
  return { ...env, ...extra };
}

// Starts the shop and resolves once it printed "listening on PORT".
function startShop({ env = {}, args = ['--max-seconds', '60'] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kServer, ...args], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // 'close', not 'exit': by then all of stdout and stderr has been read.
    const exited = new Promise((res) =>
      child.on('close', (code, signal) => {
        running.delete(child);
        res({ code, signal });
      }),
    );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shop did not start in ${kStartTimeoutMs} ms; stderr:\n${stderr}`));
    }, kStartTimeoutMs);
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /^listening on (\d+)$/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      const port = Number(m[1]);
      resolve({
        port,
        base: `http://127.0.0.1:${port}`,
        child,
        exited,
        stderr: () => stderr,
        // Sends a signal and resolves with { code, signal } once it exited.
        async stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`shop exited (${code}) before listening; stderr:\n${stderr}`));
    });
  });
}

// One HTTP request on its own connection. Resolves with
// { status, headers, text, json() }.
function request(base, method, urlPath, { body, headers = {}, json } = {}) {
  return new Promise((resolve, reject) => {
    let payload = body;
    const h = { ...headers };
    if (json !== undefined) {
      payload = JSON.stringify(json);
      h['content-type'] = 'application/json';
    }
    if (payload !== undefined) h['content-length'] = Buffer.byteLength(payload);
    const req = http.request(`${base}${urlPath}`, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode,
          headers: res.headers,
          text,
          json: () => JSON.parse(text),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

function form(fields) {
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  };
}

// A FormData as the bytes and content type fetch would send.
async function multipart(fd) {
  const r = new Request('http://multipart.invalid/', { method: 'POST', body: fd });
  return { body: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type') };
}

async function login(base, username = 'alice', password = 'secret') {
  const res = await request(base, 'POST', '/authenticate', { json: { username, password } });
  assert.equal(res.status, 200, res.text);
  return res.json().token;
}

// ---------------------------------------------------------------- endpoints

describe('shop endpoints', () => {
  let shop;
  let base;
  before(async () => {
    shop = await startShop();
    base = shop.base;
  });
  after(async () => {
    const { code } = await shop.stop();
    assert.equal(code, 0, shop.stderr());
  });

  it('does not export traces without an OTLP endpoint', async () => {
    const res = await request(base, 'GET', '/stats');
    assert.equal(res.json().telemetry.exporting, false);
  });

  it('GET /health is 200 ok', async () => {
    const res = await request(base, 'GET', '/health');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
  });

  it('GET / lists products as HTML', async () => {
    const res = await request(base, 'GET', '/');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.text, /href="\/product\/1"/);
    assert.match(res.text, /href="\/product\/20"/);
  });

  it('GET /api/products lists about twenty products', async () => {
    const res = await request(base, 'GET', '/api/products');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    const list = res.json();
    assert.equal(list.length, 20);
    for (const p of list) {
      assert.ok(Number.isInteger(p.id));
      assert.equal(typeof p.name, 'string');
      assert.ok(Number.isInteger(p.price_cents) && p.price_cents > 0);
    }
    assert.deepEqual(list.map((p) => p.id), Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('GET /api/products/:id returns one product, 404 for unknown ids', async () => {
    const ok = await request(base, 'GET', '/api/products/7');
    assert.equal(ok.status, 200);
    assert.equal(ok.json().id, 7);
    for (const id of ['0', '21', '999999', 'abc', '-1']) {
      const res = await request(base, 'GET', `/api/products/${id}`);
      assert.equal(res.status, 404, `id ${id}`);
      assert.equal(typeof res.json().error, 'string');
    }
  });

  it('POST /api/cart adds to a cart and keeps it by cart_id', async () => {
    const first = await request(base, 'POST', '/api/cart', { json: { product_id: 3, quantity: 2 } });
    assert.equal(first.status, 200, first.text);
    const cart = first.json();
    assert.equal(typeof cart.cart_id, 'string');
    assert.deepEqual(cart.items.map((i) => [i.product_id, i.quantity]), [[3, 2]]);
    assert.equal(cart.item_count, 2);
    assert.equal(cart.total_cents, cart.items[0].price_cents * 2);
    const second = await request(base, 'POST', '/api/cart', {
      json: { product_id: 5, quantity: 1, cart_id: cart.cart_id },
    });
    assert.equal(second.status, 200);
    assert.equal(second.json().cart_id, cart.cart_id);
    assert.equal(second.json().item_count, 3);
  });

  it('POST /api/cart rejects bad input', async () => {
    const cases = [
      [{ body: '{"product_id": 1,', headers: { 'content-type': 'application/json' } }, 400, 'bad JSON'],
      [{ body: 'not json at all', headers: { 'content-type': 'application/json' } }, 400, 'not JSON'],
      [{ json: [1, 2] }, 400, 'JSON array'],
      [{ json: { quantity: 1 } }, 400, 'no product_id'],
      [{ json: { product_id: 1 } }, 400, 'no quantity'],
      [{ json: { product_id: 1, quantity: 0 } }, 400, 'zero quantity'],
      [{ json: { product_id: 'x', quantity: 1 } }, 400, 'non-numeric id'],
      [{ json: { product_id: 1.5, quantity: 1 } }, 400, 'fractional id'],
      [{}, 400, 'empty body'],
      [{ json: { product_id: 4242, quantity: 1 } }, 404, 'unknown product'],
    ];
    for (const [opts, status, what] of cases) {
      const res = await request(base, 'POST', '/api/cart', opts);
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.equal(typeof res.json().error, 'string', what);
    }
  });

  it('POST /authenticate accepts JSON and forms, sets the session cookie', async () => {
    const viaJson = await request(base, 'POST', '/authenticate', { json: { username: 'bob', password: 'pw' } });
    assert.equal(viaJson.status, 200);
    const { token } = viaJson.json();
    assert.match(token, /^[0-9a-f]{32}$/);
    assert.match(viaJson.headers['set-cookie'][0], new RegExp(`^session=${token};`));
    const viaForm = await request(base, 'POST', '/authenticate', form({ username: 'carol', password: 'pw' }));
    assert.equal(viaForm.status, 200);
    assert.notEqual(viaForm.json().token, token);
    assert.match(viaForm.headers['set-cookie'][0], /^session=[0-9a-f]{32};/);
  });

  it('POST /account/avatar takes a multipart PNG; GET /account and /stats show it', async () => {
    const token = await login(base, 'uploader');
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from([0, 255, 13, 10, 45, 45])]);
    const fd = new FormData();
    fd.append('avatar', new Blob([png], { type: 'image/png' }), 'me.png');
    fd.append('caption', 'hello "world"');
    const { body, type } = await multipart(fd);
    const auth = { authorization: `Bearer ${token}` };
    const res = await request(base, 'POST', '/account/avatar', { body, headers: { 'content-type': type, ...auth } });
    assert.equal(res.status, 200, res.text);
    const sha = require('node:crypto').createHash('sha256').update(png).digest('hex');
    assert.deepEqual(res.json(), { username: 'uploader', filename: 'me.png', size: png.length, sha256: sha, caption: 'hello "world"' });
    const me = (await request(base, 'GET', '/account', { headers: auth })).json();
    assert.equal(me.username, 'uploader');
    assert.equal(me.avatar.sha256, sha);
    assert.ok(me.logins >= 1);
    const stats = (await request(base, 'GET', '/stats')).json();
    assert.ok(stats.accounts.users >= 1 && stats.accounts.avatars >= 1, JSON.stringify(stats.accounts));
  });

  it('POST /account/avatar refuses what is not a PNG upload', async () => {
    const token = await login(base, 'refused');
    const auth = { authorization: `Bearer ${token}` };
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1]);
    const cases = [];
    const noFile = new FormData();
    noFile.append('caption', 'x');
    cases.push(['no avatar field', 400, await multipart(noFile), auth]);
    const wrongType = new FormData();
    wrongType.append('avatar', new Blob([png], { type: 'image/jpeg' }), 'a.jpg');
    cases.push(['wrong content type', 415, await multipart(wrongType), auth]);
    const notPng = new FormData();
    notPng.append('avatar', new Blob([Buffer.from('GIF89a....')], { type: 'image/png' }), 'a.png');
    cases.push(['not a PNG', 400, await multipart(notPng), auth]);
    const big = new FormData();
    big.append('avatar', new Blob([png, Buffer.alloc(1024 * 1024)], { type: 'image/png' }), 'big.png');
    cases.push(['over 1 MiB', 413, await multipart(big), auth]);
    cases.push(['not multipart', 415, { body: 'a=1', type: 'application/x-www-form-urlencoded' }, auth]);
    cases.push(['malformed multipart', 400, { body: '--x\r\nnope', type: 'multipart/form-data; boundary=x' }, auth]);
    const ok = new FormData();
    ok.append('avatar', new Blob([png], { type: 'image/png' }), 'a.png');
    cases.push(['no session', 401, await multipart(ok), {}]);
    for (const [what, status, { body, type }, headers] of cases) {
      const res = await request(base, 'POST', '/account/avatar', { body, headers: { 'content-type': type, ...headers } });
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.equal(typeof res.json().error, 'string', what);
    }
  });

  it('POST /authenticate is 401 on empty credentials, 400 on bad JSON', async () => {
    for (const fields of [{}, { username: 'a' }, { password: 'b' }, { username: '', password: 'b' }, { username: 'a', password: '' }]) {
      const res = await request(base, 'POST', '/authenticate', form(fields));
      assert.equal(res.status, 401, JSON.stringify(fields));
      assert.equal(res.headers['set-cookie'], undefined);
    }
    const bad = await request(base, 'POST', '/authenticate', { body: '{', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
  });

  it('GET /product/:id is an HTML page, 404 for unknown ids', async () => {
    const res = await request(base, 'GET', '/product/4');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.text, /<h1 id="product-name">French Press<\/h1>/);
    assert.match(res.text, /action="\/cart\/add"/);
    const missing = await request(base, 'GET', '/product/77');
    assert.equal(missing.status, 404);
    assert.match(missing.headers['content-type'], /^text\/html/);
  });

  it('POST /cart/add needs the session cookie', async () => {
    const none = await request(base, 'POST', '/cart/add', form({ product_id: '1' }));
    assert.equal(none.status, 401);
    const bogus = await request(base, 'POST', '/cart/add', { ...form({ product_id: '1' }), headers: { ...form({}).headers, cookie: 'session=nope' } });
    assert.equal(bogus.status, 401);
  });

  it('POST /cart/add adds to the session cart (cookie or bearer token)', async () => {
    const token = await login(base);
    const cookie = `theme=dark; session=${token}`;
    const add = await request(base, 'POST', '/cart/add', { json: { product_id: 2, quantity: 3 }, headers: { cookie } });
    assert.equal(add.status, 200, add.text);
    assert.equal(add.json().item_count, 3);
    const again = await request(base, 'POST', '/cart/add', {
      ...form({ product_id: '2' }), // quantity defaults to 1
      headers: { ...form({}).headers, authorization: `Bearer ${token}` },
    });
    assert.equal(again.status, 200);
    assert.deepEqual(again.json().items.map((i) => [i.product_id, i.quantity]), [[2, 4]]);
    const cart = await request(base, 'GET', '/cart', { headers: { cookie } });
    assert.equal(cart.status, 200);
    assert.equal(cart.json().item_count, 4);
    const missing = await request(base, 'POST', '/cart/add', { json: { quantity: 1 }, headers: { cookie } });
    assert.equal(missing.status, 400);
    const unknown = await request(base, 'POST', '/cart/add', { json: { product_id: 99 }, headers: { cookie } });
    assert.equal(unknown.status, 404);
  });

  it('POST /checkout/confirm needs the cookie and a non-empty cart', async () => {
    const anonymous = await request(base, 'POST', '/checkout/confirm');
    assert.equal(anonymous.status, 401);
    const token = await login(base, 'dave', 'pw');
    const cookie = `session=${token}`;
    const empty = await request(base, 'POST', '/checkout/confirm', { headers: { cookie } });
    assert.equal(empty.status, 400);
    assert.match(empty.json().error, /empty/);
    for (const id of [1, 9]) {
      const add = await request(base, 'POST', '/cart/add', { json: { product_id: id, quantity: 1 }, headers: { cookie } });
      assert.equal(add.status, 200);
    }
    const order = await request(base, 'POST', '/checkout/confirm', { headers: { cookie } });
    assert.equal(order.status, 200, order.text);
    const body = order.json();
    assert.match(body.order_id, /^o\d+$/);
    assert.equal(body.item_count, 2);
    assert.ok(body.total_cents > 0);
    const again = await request(base, 'POST', '/checkout/confirm', { headers: { cookie } });
    assert.equal(again.status, 400, 'the cart is emptied by a confirmed order');
    const next = await request(base, 'POST', '/cart/add', { json: { product_id: 1, quantity: 1 }, headers: { cookie } });
    const order2 = await request(base, 'POST', '/checkout/confirm', { headers: { cookie } });
    assert.equal(next.status, 200);
    assert.notEqual(order2.json().order_id, body.order_id);
  });

  it('unknown paths are 404, wrong methods 405 with Allow, HEAD works', async () => {
    assert.equal((await request(base, 'GET', '/nope')).status, 404);
    assert.equal((await request(base, 'GET', '/api/products/1/extra')).status, 404);
    const wrong = await request(base, 'DELETE', '/api/products');
    assert.equal(wrong.status, 405);
    assert.match(wrong.headers.allow, /GET/);
    const post = await request(base, 'GET', '/authenticate');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'POST');
    const head = await request(base, 'HEAD', '/api/products/1');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  it('GET /stats reports the DB pool', async () => {
    const res = await request(base, 'GET', '/stats');
    assert.equal(res.status, 200);
    const { db, requests } = res.json();
    assert.equal(db.pool_size, 4);
    assert.equal(db.base_ms, 2);
    assert.ok(db.queries > 0);
    assert.ok(requests.total > 0);
  });
});

// ---------------------------------------------------------------- DB pool

describe('simulated DB pool', () => {
  let shop;
  before(async () => {
    // Slow queries make the 32 concurrent requests overlap for sure.
    shop = await startShop({ env: { SHOP_DB_POOL: '4', SHOP_DB_BASE_MS: '20' } });
  });
  after(async () => {
    await shop.stop();
  });

  it('a lone request never queues; 32 concurrent ones on 4 connections do', async () => {
    const lone = await request(shop.base, 'GET', '/api/products/1');
    assert.equal(lone.status, 200);
    assert.equal(lone.headers['x-db-queued'], '0');
    assert.equal(Number(lone.headers['x-db-wait-ms']), 0);
    assert.equal(lone.headers['x-db-queries'], '1');

    const burst = await Promise.all(
      Array.from({ length: 32 }, (_, i) => request(shop.base, 'GET', `/api/products/${(i % 20) + 1}`)),
    );
    for (const res of burst) assert.equal(res.status, 200);
    const queued = burst.map((r) => Number(r.headers['x-db-queued']));
    const waits = burst.map((r) => Number(r.headers['x-db-wait-ms']));
    assert.ok(Math.max(...queued) > 0, `some request queued: ${queued}`);
    assert.ok(Math.max(...waits) > 0, `some request waited: ${waits}`);
    // Every query that queued reported a wait; none that did not.
    burst.forEach((r, i) => assert.equal(queued[i] > 0, waits[i] > 0, `request ${i}`));

    const { db } = (await request(shop.base, 'GET', '/stats')).json();
    assert.equal(db.queued, queued.reduce((a, b) => a + b, 0));
    assert.ok(db.max_queue_length >= 1);
    assert.ok(db.max_wait_ms > 0);
    assert.equal(db.in_use, 0);
    assert.equal(db.queue_length, 0);

    const after = await request(shop.base, 'GET', '/api/products/2');
    assert.equal(after.headers['x-db-queued'], '0', 'the queue drained');
  });
});

// ---------------------------------------------------------------- lifecycle

describe('lifecycle', () => {
  it('--max-seconds makes the shop exit by itself', async () => {
    const shop = await startShop({ args: ['--max-seconds', '0.5'] });
    const { code } = await shop.exited;
    assert.equal(code, 0);
    assert.match(shop.stderr(), /max-seconds/);
  });

  it('honours PORT and rejects a bad setting', async () => {
    const probe = http.createServer();
    await new Promise((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address();
    await new Promise((r) => probe.close(r));
    const shop = await startShop({ env: { PORT: String(port) } });
    assert.equal(shop.port, port);
    assert.equal((await shop.stop('SIGINT')).code, 0);

    await assert.rejects(startShop({ env: { SHOP_DB_POOL: '0' } }), /SHOP_DB_POOL/);
  });
});

// ---------------------------------------------------------------- OpenTelemetry

// A minimal protobuf reader, enough for ExportTraceServiceRequest.
function* protoFields(buf) {
  let pos = 0;
  const varint = () => {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('truncated varint');
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    let value;
    if (wire === 0) value = varint();
    else if (wire === 1) (value = buf.subarray(pos, pos + 8)), (pos += 8);
    else if (wire === 2) {
      const len = varint();
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else if (wire === 5) (value = buf.subarray(pos, pos + 4)), (pos += 4);
    else throw new Error(`unsupported wire type ${wire}`);
    yield { no, wire, value };
  }
}

function decodeAnyValue(buf) {
  for (const f of protoFields(buf)) {
    if (f.no === 1) return f.value.toString('utf8');
    if (f.no === 2 || f.no === 3) return f.value;
    if (f.no === 4) return f.value.readDoubleLE(0);
  }
  return undefined;
}

function decodeAttributes(list) {
  const out = {};
  for (const kv of list) {
    let key;
    let value;
    for (const f of protoFields(kv)) {
      if (f.no === 1) key = f.value.toString('utf8');
      else if (f.no === 2) value = decodeAnyValue(f.value);
    }
    out[key] = value;
  }
  return out;
}

// Returns a flat list of spans: { traceId, spanId, parentSpanId, name, kind, attributes, resource }.
function decodeTraces(buf) {
  const spans = [];
  for (const rs of protoFields(buf)) {
    if (rs.no !== 1) continue;
    let resource = {};
    const scopeSpans = [];
    for (const f of protoFields(rs.value)) {
      if (f.no === 1) resource = decodeAttributes([...protoFields(f.value)].filter((a) => a.no === 1).map((a) => a.value));
      else if (f.no === 2) scopeSpans.push(f.value);
    }
    for (const ss of scopeSpans) {
      for (const f of protoFields(ss)) {
        if (f.no !== 2) continue;
        const span = { kind: 0, parentSpanId: '', attributes: {}, resource };
        const attrs = [];
        for (const s of protoFields(f.value)) {
          if (s.no === 1) span.traceId = s.value.toString('hex');
          else if (s.no === 2) span.spanId = s.value.toString('hex');
          else if (s.no === 4) span.parentSpanId = s.value.toString('hex');
          else if (s.no === 5) span.name = s.value.toString('utf8');
          else if (s.no === 6) span.kind = s.value;
          else if (s.no === 9) attrs.push(s.value);
        }
        span.attributes = decodeAttributes(attrs);
        spans.push(span);
      }
    }
  }
  return spans;
}

const kSpanKindInternal = 1;
const kSpanKindServer = 2;
const kSpanKindClient = 3;

describe('OpenTelemetry', () => {
  it('continues the caller trace and exports OTLP/HTTP protobuf, flushed on SIGTERM', async () => {
    const exports = [];
    const receiver = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
        exports.push({ method: req.method, url: req.url, type: req.headers['content-type'], body });
        res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
        res.end();
      });
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const shop = await startShop({
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.address().port}`,
          OTEL_BSP_SCHEDULE_DELAY: '100',
          // One connection and slow queries: concurrent requests must queue.
          SHOP_DB_POOL: '1',
          SHOP_DB_BASE_MS: '20',
        },
      });
      const stats = await request(shop.base, 'GET', '/stats');
      assert.equal(stats.json().telemetry.exporting, true);

      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const parentId = '00f067aa0ba902b7';
      const res = await request(shop.base, 'GET', '/api/products/7', {
        headers: { traceparent: `00-${traceId}-${parentId}-01` },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers['server-timing'], new RegExp(`trace;desc="00-${traceId}-[0-9a-f]{16}-01"`));

      // Four concurrent requests of one other trace: with one DB connection
      // some of them queue, and those must show a db.pool.wait span.
      const busyTrace = 'aaaabbbbccccddddeeeeffff00001111';
      const busy = await Promise.all(
        [1, 2, 3, 4].map((i) =>
          request(shop.base, 'GET', `/api/products/${i}`, {
            headers: { traceparent: `00-${busyTrace}-${String(i).padStart(16, '0')}-01` },
          }),
        ),
      );
      const anyQueued = busy.some((r) => Number(r.headers['x-db-queued']) > 0);

      const { code } = await shop.stop('SIGTERM');
      assert.equal(code, 0, shop.stderr());

      assert.ok(exports.length >= 1, 'the receiver got at least one export request');
      for (const e of exports) {
        assert.equal(e.method, 'POST');
        assert.equal(e.url, '/v1/traces');
        assert.equal(e.type, 'application/x-protobuf');
      }
      const spans = exports.flatMap((e) => decodeTraces(e.body));

      const server = spans.find((s) => s.kind === kSpanKindServer && s.traceId === traceId);
      assert.ok(server, `a SERVER span of our trace among ${spans.map((s) => s.name)}`);
      assert.equal(server.parentSpanId, parentId);
      assert.equal(server.name, 'GET /api/products/:id');
      assert.equal(server.attributes['http.route'], '/api/products/:id');
      assert.equal(server.resource['service.name'], 'shop');
      assert.match(res.headers['server-timing'], new RegExp(`-${server.spanId}-01"`));

      const query = spans.find((s) => s.name === 'db.query' && s.parentSpanId === server.spanId);
      assert.ok(query, 'a db.query child of the SERVER span');
      assert.equal(query.traceId, traceId);
      assert.equal(query.kind, kSpanKindClient);
      assert.equal(query.attributes['db.system.name'], 'other_sql');
      assert.equal(query.attributes['db.operation.name'], 'SELECT');
      assert.equal(query.attributes['db.collection.name'], 'products');
      assert.equal(query.attributes['db.client.connection.wait_time_ms'], 0);

      const busyServers = spans.filter((s) => s.kind === kSpanKindServer && s.traceId === busyTrace);
      assert.equal(busyServers.length, 4);
      if (anyQueued) {
        const waits = spans.filter((s) => s.name === 'db.pool.wait' && s.traceId === busyTrace);
        assert.ok(waits.length >= 1, 'a db.pool.wait span for a queued query');
        for (const w of waits) {
          assert.equal(w.kind, kSpanKindInternal);
          const parent = spans.find((s) => s.spanId === w.parentSpanId);
          assert.equal(parent && parent.name, 'db.query');
        }
      }
      assert.equal(spans.filter((s) => s.name === 'GET /health').length, 0);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });

  it('OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are honoured', async () => {
    const bodies = [];
    const paths = new Set();
    const receiver = http.createServer((req, res) => {
      const chunks = [];
      paths.add(req.url);
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-length': 0 });
        res.end();
      });
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const shop = await startShop({
        env: {
          // The per-signal variable is used as is.
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${receiver.address().port}/custom/path`,
          OTEL_SERVICE_NAME: 'shop-under-test',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci,service.name=ignored',
        },
      });
      assert.equal((await request(shop.base, 'GET', '/api/products')).status, 200);
      assert.equal((await shop.stop('SIGINT')).code, 0, shop.stderr());
      assert.deepEqual([...paths], ['/custom/path']);
      const spans = bodies.flatMap((b) => decodeTraces(b));
      const server = spans.find((s) => s.kind === kSpanKindServer);
      assert.ok(server, 'a SERVER span was flushed on SIGINT');
      assert.equal(server.resource['service.name'], 'shop-under-test');
      assert.equal(server.resource['deployment.environment.name'], 'ci');
      assert.equal(server.parentSpanId, '', 'no traceparent: a root span');
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });
});
