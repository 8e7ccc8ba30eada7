'use strict';
// stampede demo shop: a small HTTP service to load-test.
//
//   node examples/shop/server.js [--max-seconds N]
//
// Listens on HOST (default 127.0.0.1) and PORT (default 0 = ephemeral) and
// prints exactly "listening on PORT" on stdout once ready. Everything else it
// says goes to stderr. See README.md for the endpoints and the environment.

// Telemetry first: it must patch node:http before anything requires it.
const telemetry = require('./tracing');

const http = require('node:http');
const api = require('@opentelemetry/api');
const { DbPool, round3 } = require('./db');

const kMaxBodyBytes = 64 * 1024;
const kMaxUploadBytes = 1024 * 1024; // POST /account/avatar
const kPngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const kMaxSessions = 100000;
const kMaxCarts = 100000;
const kMaxQuantity = 999;

// ---------------------------------------------------------------- config

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let value;
    if (arg === '--max-seconds') {
      value = argv[++i];
    } else if (arg.startsWith('--max-seconds=')) {
      value = arg.slice('--max-seconds='.length);
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: node server.js [--max-seconds N]\n');
      process.exit(0);
    } else {
      fatal(`unknown argument ${arg}`);
    }
    out.maxSeconds = value;
  }
  return out;
}

function fatal(message) {
  process.stderr.write(`shop: ${message}\n`);
  process.exit(2);
}

function numberSetting(name, raw, fallback, { integer = false, min = 0 } = {}) {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    fatal(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${raw}"`);
  }
  return value;
}

const args = parseArgs(process.argv.slice(2));
const config = {
  host: process.env.HOST || '127.0.0.1',
  port: numberSetting('PORT', process.env.PORT, 0, { integer: true }),
  maxSeconds: numberSetting(
    '--max-seconds / SHOP_MAX_SECONDS',
    args.maxSeconds !== undefined ? args.maxSeconds : process.env.SHOP_MAX_SECONDS,
    600,
  ),
  dbPool: numberSetting('SHOP_DB_POOL', process.env.SHOP_DB_POOL, 4, { integer: true, min: 1 }),
  dbBaseMs: numberSetting('SHOP_DB_BASE_MS', process.env.SHOP_DB_BASE_MS, 2),
};

// ---------------------------------------------------------------- data

const kProductNames = [
  'Espresso Cup', 'Pour-Over Kettle', 'Burr Grinder', 'French Press', 'Milk Frother',
  'Tea Infuser', 'Travel Mug', 'Coffee Scale', 'Cold Brew Jar', 'Moka Pot',
  'Paper Filters', 'Ceramic Dripper', 'Tamper', 'Knock Box', 'Latte Art Pitcher',
  'Bean Canister', 'Cupping Spoon', 'Barista Apron', 'Descaler', 'Gift Card',
];
const products = kProductNames.map((name, i) => ({
  id: i + 1,
  name,
  price_cents: 500 + ((i * 733) % 7500),
  stock: 10 + ((i * 37) % 90),
  description: `A fine ${name.toLowerCase()} for the discerning load tester.`,
}));
const productsById = new Map(products.map((p) => [p.id, p]));

// A Map that forgets its oldest entries past `max`, so a long load test
// cannot grow the process without bound.
class BoundedMap extends Map {
  constructor(max) {
    super();
    this.max = max;
  }
  set(key, value) {
    if (!this.has(key) && this.size >= this.max) this.delete(this.keys().next().value);
    return super.set(key, value);
  }
}

const sessions = new BoundedMap(kMaxSessions); // token -> { username, cart }
// username -> { logins, avatar: { filename, size, sha256, caption } | null }
const accounts = new BoundedMap(kMaxSessions);
const anonymousCarts = new BoundedMap(kMaxCarts); // cart id -> cart
let nextOrderId = 1000;
let nextCartId = 1;

function newCart() {
  return { id: `c${nextCartId++}`, items: new Map() }; // product id -> quantity
}

function cartJson(cart) {
  const items = [];
  let total = 0;
  let count = 0;
  for (const [productId, quantity] of cart.items) {
    const p = productsById.get(productId);
    items.push({ product_id: productId, name: p.name, quantity, price_cents: p.price_cents });
    total += p.price_cents * quantity;
    count += quantity;
  }
  return { cart_id: cart.id, items, item_count: count, total_cents: total };
}

const db = new DbPool({ tracer: telemetry.tracer, size: config.dbPool, baseMs: config.dbBaseMs });

const requestCounts = { total: 0, by_status: {} };

// ---------------------------------------------------------------- http helpers

class HttpError extends Error {
  constructor(status, message, { html = false, headers = {} } = {}) {
    super(message);
    this.status = status;
    this.html = html;
    this.headers = headers;
  }
}

function readBody(req, maxBytes = kMaxBodyBytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > maxBytes) {
        tooLarge = true;
        chunks.length = 0; // keep draining, stop buffering
      } else if (!tooLarge) {
        chunks.push(chunk);
      }
    });
    req.on('end', () => {
      if (tooLarge) reject(new HttpError(413, `body larger than ${maxBytes} bytes`));
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

// Parses a JSON or form-encoded body into a plain object. A body that is
// neither valid JSON nor form data, or a JSON value that is not an object,
// is a 400.
function parseBody(req, raw) {
  const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  const isForm = type === 'application/x-www-form-urlencoded';
  if (isForm) return Object.fromEntries(new URLSearchParams(raw));
  if (raw.trim() === '') return {};
  let value;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new HttpError(400, `invalid JSON body: ${err.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'the JSON body must be an object');
  }
  return value;
}

// An integer field, given as a number or a numeric string (forms send strings).
function intField(body, name, { required = true, fallback, min = 1, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = body[name];
  if (raw === undefined || raw === null || raw === '') {
    if (required) throw new HttpError(400, `missing field ${name}`);
    return fallback;
  }
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HttpError(400, `field ${name} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

function stringField(body, name) {
  const raw = body[name];
  return typeof raw === 'string' ? raw : raw === undefined || raw === null ? '' : String(raw);
}

function parseCookies(header) {
  const out = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

// The session token from the `session` cookie (or, for API clients without a
// cookie jar, an `Authorization: Bearer <token>` header).
function sessionToken(req) {
  const cookie = parseCookies(req.headers.cookie).session;
  if (cookie) return cookie;
  const auth = req.headers.authorization || '';
  const m = /^Bearer\s+(\S+)$/i.exec(auth);
  return m ? m[1] : undefined;
}

function requireSession(req) {
  const token = sessionToken(req);
  if (!token) throw new HttpError(401, 'no session: POST /authenticate first', authChallenge());
  const session = sessions.get(token);
  if (!session) throw new HttpError(401, 'unknown or expired session', authChallenge());
  return session;
}

function authChallenge() {
  return { headers: { 'www-authenticate': 'Bearer realm="shop"' } };
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function formatPrice(cents) {
  return `$${(cents / 100).toFixed(2)}`;
}

function htmlPage(title, body) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)} · stampede shop</title></head>
<body>
<header><a href="/">stampede shop</a></header>
<main>
${body}
</main>
</body>
</html>
`;
}

// ---------------------------------------------------------------- handlers
// Each handler gets (ctx) and returns { status, body, type?, headers? }.
// ctx: { req, params, dbTrace, body() }

async function getProductOrThrow(ctx, id, { html = false } = {}) {
  const product = await db.query('SELECT', 'products', {
    trace: ctx.dbTrace,
    fn: () => productsById.get(id),
  });
  if (!product) throw new HttpError(404, `no product with id ${id}`, { html });
  return product;
}

function productIdParam(ctx, { html = false } = {}) {
  const raw = ctx.params.id;
  if (!/^\d{1,9}$/.test(raw)) throw new HttpError(404, `no product with id ${raw}`, { html });
  return Number(raw);
}

const handlers = {
  async home(ctx) {
    const list = await db.query('SELECT', 'products', { cost: 2, trace: ctx.dbTrace, fn: () => products });
    const items = list
      .map((p) => `<li><a href="/product/${p.id}">${escapeHtml(p.name)}</a> ${formatPrice(p.price_cents)}</li>`)
      .join('\n');
    return { status: 200, type: 'text/html; charset=utf-8', body: htmlPage('Products', `<h1>Products</h1>\n<ul>\n${items}\n</ul>`) };
  },

  health() {
    return { status: 200, type: 'text/plain; charset=utf-8', body: 'ok' };
  },

  stats() {
    return {
      status: 200,
      body: {
        db: db.snapshot(),
        requests: requestCounts,
        sessions: sessions.size,
        accounts: { users: accounts.size, avatars: [...accounts.values()].filter((a) => a.avatar).length },
        telemetry: { exporting: telemetry.exporting },
      },
    };
  },

  async listProducts(ctx) {
    const list = await db.query('SELECT', 'products', { cost: 2, trace: ctx.dbTrace, fn: () => products });
    return { status: 200, body: list };
  },

  async getProduct(ctx) {
    const product = await getProductOrThrow(ctx, productIdParam(ctx));
    return { status: 200, body: product };
  },

  async apiCart(ctx) {
    const body = parseBody(ctx.req, await ctx.rawBody());
    const productId = intField(body, 'product_id');
    const quantity = intField(body, 'quantity', { max: kMaxQuantity });
    await getProductOrThrow(ctx, productId);
    // The cart: the session's if the caller has one, else an anonymous cart
    // named by `cart_id` (one is created when absent or unknown).
    const token = sessionToken(ctx.req);
    const session = token ? sessions.get(token) : undefined;
    let cart = session ? session.cart : anonymousCarts.get(stringField(body, 'cart_id'));
    if (!cart) {
      cart = newCart();
      anonymousCarts.set(cart.id, cart);
    }
    await db.query('INSERT', 'cart_items', {
      trace: ctx.dbTrace,
      fn: () => cart.items.set(productId, Math.min(kMaxQuantity, (cart.items.get(productId) || 0) + quantity)),
    });
    return { status: 200, body: cartJson(cart) };
  },

  async authenticate(ctx) {
    const body = parseBody(ctx.req, await ctx.rawBody());
    const username = stringField(body, 'username').trim();
    const password = stringField(body, 'password');
    if (username === '' || password === '') {
      throw new HttpError(401, 'username and password are required', authChallenge());
    }
    await db.query('SELECT', 'users', { trace: ctx.dbTrace });
    const token = require('node:crypto').randomBytes(16).toString('hex');
    await db.query('INSERT', 'sessions', {
      trace: ctx.dbTrace,
      fn: () => {
        sessions.set(token, { username, cart: newCart() });
        const account = accounts.get(username) || { logins: 0, avatar: null };
        account.logins++;
        accounts.set(username, account);
      },
    });
    return {
      status: 200,
      headers: { 'set-cookie': `session=${token}; Path=/; HttpOnly; SameSite=Lax` },
      body: { token, username },
    };
  },

  async productPage(ctx) {
    const product = await getProductOrThrow(ctx, productIdParam(ctx, { html: true }), { html: true });
    const reviews = await db.query('SELECT', 'reviews', { trace: ctx.dbTrace, fn: () => (product.id * 7) % 23 });
    const body = `<h1 id="product-name">${escapeHtml(product.name)}</h1>
<p class="price">${formatPrice(product.price_cents)}</p>
<p class="description">${escapeHtml(product.description)}</p>
<p class="stock">${product.stock} in stock · ${reviews} reviews</p>
<form method="post" action="/cart/add">
  <input type="hidden" name="product_id" value="${product.id}">
  <input type="number" name="quantity" value="1" min="1" max="${kMaxQuantity}">
  <button type="submit">Add to cart</button>
</form>`;
    return { status: 200, type: 'text/html; charset=utf-8', body: htmlPage(product.name, body) };
  },

  async cartAdd(ctx) {
    const session = requireSession(ctx.req);
    const body = parseBody(ctx.req, await ctx.rawBody());
    const productId = intField(body, 'product_id');
    const quantity = intField(body, 'quantity', { required: false, fallback: 1, max: kMaxQuantity });
    await getProductOrThrow(ctx, productId);
    const cart = session.cart;
    await db.query('INSERT', 'cart_items', {
      trace: ctx.dbTrace,
      fn: () => cart.items.set(productId, Math.min(kMaxQuantity, (cart.items.get(productId) || 0) + quantity)),
    });
    return { status: 200, body: cartJson(cart) };
  },

  async getCart(ctx) {
    const session = requireSession(ctx.req);
    await db.query('SELECT', 'cart_items', { trace: ctx.dbTrace });
    return { status: 200, body: cartJson(session.cart) };
  },

  // multipart/form-data with a PNG in the `avatar` field and an optional
  // `caption`, parsed by Node's own Fetch API (undici's FormData parser).
  async uploadAvatar(ctx) {
    const session = requireSession(ctx.req);
    const type = (ctx.req.headers['content-type'] || '').toLowerCase();
    if (!type.startsWith('multipart/form-data')) {
      throw new HttpError(415, 'send multipart/form-data with an "avatar" file field');
    }
    const bytes = await ctx.rawBytes(kMaxUploadBytes);
    let form;
    try {
      form = await new Response(bytes, { headers: { 'content-type': ctx.req.headers['content-type'] } }).formData();
    } catch (err) {
      throw new HttpError(400, `malformed multipart body: ${err.message}`);
    }
    const file = form.get('avatar');
    if (file === null || typeof file === 'string') throw new HttpError(400, 'missing file field "avatar"');
    if (file.type !== 'image/png') throw new HttpError(415, `avatar must be image/png, got ${file.type || 'no type'}`);
    const data = Buffer.from(await file.arrayBuffer());
    if (data.length < kPngSignature.length || !data.subarray(0, kPngSignature.length).equals(kPngSignature)) {
      throw new HttpError(400, 'avatar is not a PNG (bad signature)');
    }
    const caption = form.get('caption');
    const avatar = {
      filename: file.name,
      size: data.length,
      sha256: require('node:crypto').createHash('sha256').update(data).digest('hex'),
      caption: typeof caption === 'string' ? caption : null,
    };
    await db.query('UPDATE', 'users', {
      trace: ctx.dbTrace,
      fn: () => {
        const account = accounts.get(session.username) || { logins: 0, avatar: null };
        account.avatar = avatar;
        accounts.set(session.username, account);
      },
    });
    return { status: 200, body: { username: session.username, ...avatar } };
  },

  async getAccount(ctx) {
    const session = requireSession(ctx.req);
    const account = await db.query('SELECT', 'users', { trace: ctx.dbTrace, fn: () => accounts.get(session.username) });
    return { status: 200, body: { username: session.username, logins: account ? account.logins : 0, avatar: account ? account.avatar : null } };
  },

  async checkoutConfirm(ctx) {
    const session = requireSession(ctx.req);
    await ctx.rawBody(); // accepted and ignored
    const cart = await db.query('SELECT', 'cart_items', { trace: ctx.dbTrace, fn: () => session.cart });
    if (cart.items.size === 0) throw new HttpError(400, 'the cart is empty');
    const summary = cartJson(cart);
    const orderId = await db.query('INSERT', 'orders', { cost: 3, trace: ctx.dbTrace, fn: () => `o${nextOrderId++}` });
    await db.query('DELETE', 'cart_items', { trace: ctx.dbTrace, fn: () => cart.items.clear() });
    return {
      status: 200,
      body: { order_id: orderId, status: 'confirmed', items: summary.items, item_count: summary.item_count, total_cents: summary.total_cents },
    };
  },
};

// [method, path pattern, handler, route name]. `:id` matches one segment.
const routes = [
  ['GET', '/', handlers.home],
  ['GET', '/health', handlers.health],
  ['GET', '/stats', handlers.stats],
  ['GET', '/api/products', handlers.listProducts],
  ['GET', '/api/products/:id', handlers.getProduct],
  ['POST', '/api/cart', handlers.apiCart],
  ['POST', '/authenticate', handlers.authenticate],
  ['GET', '/product/:id', handlers.productPage],
  ['GET', '/cart', handlers.getCart],
  ['POST', '/cart/add', handlers.cartAdd],
  ['POST', '/checkout/confirm', handlers.checkoutConfirm],
  ['GET', '/account', handlers.getAccount],
  ['POST', '/account/avatar', handlers.uploadAvatar],
].map(([method, pattern, handler]) => ({ method, pattern, handler, parts: pattern.split('/') }));

function matchRoute(path) {
  const parts = path.split('/');
  const matches = [];
  for (const route of routes) {
    if (route.parts.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const want = route.parts[i];
      if (want.startsWith(':')) {
        if (parts[i] === '') ok = false;
        else params[want.slice(1)] = decodeURIComponent(parts[i]);
      } else if (want !== parts[i]) {
        ok = false;
      }
    }
    if (ok) matches.push({ route, params });
  }
  return matches;
}

// ---------------------------------------------------------------- dispatch

async function handle(req, res) {
  requestCounts.total++;
  const url = new URL(req.url, 'http://shop.invalid');
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const dbTrace = { waitMs: 0, queued: 0, queries: 0 };
  let bodyPromise = null;
  const ctx = {
    req,
    params: {},
    dbTrace,
    // The body, read once (the first caller's size limit applies).
    rawBytes: (maxBytes) => (bodyPromise ||= readBody(req, maxBytes)),
    rawBody: async () => (await ctx.rawBytes()).toString('utf8'),
  };
  let result;
  try {
    let matches;
    try {
      matches = matchRoute(url.pathname);
    } catch {
      throw new HttpError(400, 'malformed path');
    }
    const match = matches.find((m) => m.route.method === method);
    if (!match) {
      if (matches.length > 0) {
        const allow = [...new Set(matches.map((m) => m.route.method))];
        if (allow.includes('GET')) allow.push('HEAD');
        throw new HttpError(405, `method ${req.method} not allowed`, { headers: { allow: allow.join(', ') } });
      }
      throw new HttpError(404, `no route for ${url.pathname}`);
    }
    ctx.params = match.params;
    // Name the SERVER span after the route (low cardinality), as the HTTP
    // semantic conventions ask: "GET /api/products/:id".
    const span = api.trace.getActiveSpan();
    if (span) {
      span.setAttribute('http.route', match.route.pattern);
      span.updateName(`${req.method} ${match.route.pattern}`);
    }
    result = await match.route.handler(ctx);
  } catch (err) {
    if (!(err instanceof HttpError)) {
      process.stderr.write(`shop: ${req.method} ${req.url}: ${err && err.stack}\n`);
      err = new HttpError(500, 'internal error');
    }
    result = err.html
      ? { status: err.status, type: 'text/html; charset=utf-8', headers: err.headers, body: htmlPage('Error', `<h1>${err.status}</h1>\n<p>${escapeHtml(err.message)}</p>`) }
      : { status: err.status, headers: err.headers, body: { error: err.message } };
  }
  // Unread request bodies (errors before reading) are drained by node itself.
  send(req, res, result, dbTrace);
}

function send(req, res, result, dbTrace) {
  const isString = typeof result.body === 'string';
  const payload = Buffer.from(isString ? result.body : JSON.stringify(result.body));
  const headers = {
    'content-type': result.type || (isString ? 'text/plain; charset=utf-8' : 'application/json'),
    'content-length': payload.length,
    // The simulated DB's view of this request: total time queued for a
    // connection, how many of its queries had to queue, how many ran.
    'x-db-wait-ms': String(round3(dbTrace.waitMs)),
    'x-db-queued': String(dbTrace.queued),
    'x-db-queries': String(dbTrace.queries),
    'server-timing': serverTiming(dbTrace),
    ...(result.headers || {}),
  };
  const status = result.status;
  requestCounts.by_status[status] = (requestCounts.by_status[status] || 0) + 1;
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

// Server-Timing: the DB queue wait, and (W3C Trace Context, response side)
// the trace and this server's span id, so a client can join its span to ours.
function serverTiming(dbTrace) {
  const parts = [`dbwait;dur=${round3(dbTrace.waitMs)}`];
  const span = api.trace.getActiveSpan();
  const sc = span && span.spanContext();
  if (sc && api.isSpanContextValid(sc)) {
    const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, '0');
    parts.push(`trace;desc="00-${sc.traceId}-${sc.spanId}-${flags}"`);
  }
  return parts.join(', ');
}

// ---------------------------------------------------------------- lifecycle

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`shop: unhandled: ${err && err.stack}\n`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});

let shuttingDown = false;
async function shutdown(reason, code = 0) {
  if (shuttingDown) {
    process.exit(code || 1); // a second signal: leave now
    return;
  }
  shuttingDown = true;
  process.stderr.write(`shop: shutting down (${reason})\n`);
  server.close();
  server.closeIdleConnections();
  const hardClose = setTimeout(() => server.closeAllConnections(), 1000);
  hardClose.unref();
  // Flush spans still in the batch processor, but never hang on a dead collector.
  const flushLimit = new Promise((resolve) => setTimeout(resolve, 5000).unref());
  try {
    await Promise.race([telemetry.shutdown(), flushLimit]);
  } catch (err) {
    process.stderr.write(`shop: telemetry shutdown failed: ${err && err.message}\n`);
  }
  process.exit(code);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.on('error', (err) => fatal(`cannot listen on ${config.host}:${config.port}: ${err.message}`));
server.listen(config.port, config.host, () => {
  const { port } = server.address();
  process.stderr.write(
    `shop: http://${config.host}:${port} db pool ${config.dbPool} × ${config.dbBaseMs} ms, ` +
      `traces ${telemetry.exporting ? 'exported over OTLP/HTTP' : 'not exported'}` +
      (config.maxSeconds > 0 ? `, exits after ${config.maxSeconds} s` : '') + '\n',
  );
  process.stdout.write(`listening on ${port}\n`);
});

if (config.maxSeconds > 0) {
  const limitMs = Math.min(config.maxSeconds * 1000, 2 ** 31 - 1);
  setTimeout(() => shutdown(`--max-seconds ${config.maxSeconds} reached`), limitMs).unref();
}
