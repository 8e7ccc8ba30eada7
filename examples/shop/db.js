'use strict';
// A simulated database with a small connection pool.
//
// Every query needs one of `size` connections. A query that finds them all
// busy waits in a FIFO queue; once it holds a connection it "executes" for
// `baseMs * cost` milliseconds (a timer, never a busy loop) and then hands the
// connection to the next waiter. So under concurrency the queue grows and
// latency rises, the way a real service with a real pool behaves.
//
// Each query is a `db.query` CLIENT span; the time spent queued is a
// `db.pool.wait` child span (only when the query actually had to wait) and the
// `db.client.connection.wait_time_ms` attribute (always).

const api = require('@opentelemetry/api');

class DbPool {
  // tracer: an @opentelemetry/api Tracer. size: connections (>= 1).
  // baseMs: execution time of a cost-1 query, in milliseconds (>= 0).
  constructor({ tracer, size = 4, baseMs = 2, name = 'shop-db' } = {}) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`bad pool size ${size}`);
    if (!Number.isFinite(baseMs) || baseMs < 0) throw new Error(`bad base time ${baseMs}`);
    this.tracer = tracer;
    this.size = size;
    this.baseMs = baseMs;
    this.name = name;
    this.inUse = 0;
    this.waiters = []; // FIFO of resolve functions
    this.waiterHead = 0;
    this.stats = {
      queries: 0, // queries started
      queued: 0, // queries that had to wait for a connection
      total_wait_ms: 0,
      max_wait_ms: 0,
      max_queue_length: 0,
    };
  }

  queueLength() {
    return this.waiters.length - this.waiterHead;
  }

  // Resolves once a connection is held. Synchronous fast path when one is free,
  // so an uncontended query waits exactly 0 ms.
  acquire() {
    if (this.inUse < this.size) {
      this.inUse++;
      return null;
    }
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.stats.max_queue_length = Math.max(this.stats.max_queue_length, this.queueLength());
    });
  }

  release() {
    if (this.waiterHead < this.waiters.length) {
      // Hand the connection straight to the oldest waiter: inUse is unchanged.
      const next = this.waiters[this.waiterHead];
      this.waiters[this.waiterHead++] = undefined;
      if (this.waiterHead > 1024 && this.waiterHead * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.waiterHead);
        this.waiterHead = 0;
      }
      next();
    } else {
      this.inUse--;
    }
  }

  // Runs one simulated query.
  //   operation: 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE'
  //   collection: the table name
  //   cost: execution time in multiples of baseMs
  //   trace: optional per-request accumulator { waitMs, queued, queries }
  //   fn: optional function computing the result, run while the connection is held
  // Returns the value of fn().
  async query(operation, collection, { cost = 1, trace, fn } = {}) {
    const parent = api.context.active();
    const span = this.tracer.startSpan(
      'db.query',
      {
        kind: api.SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'other_sql',
          'db.system': 'other_sql', // pre-1.26 semantic conventions name
          'db.namespace': 'shop',
          'db.operation.name': operation,
          'db.collection.name': collection,
          'db.query.summary': `${operation} ${collection}`,
          'db.client.connection.pool.name': this.name,
        },
      },
      parent,
    );
    this.stats.queries++;
    let waitMs = 0;
    const pending = this.acquire();
    if (pending) {
      const started = performance.now();
      const waitSpan = this.tracer.startSpan(
        'db.pool.wait',
        {
          kind: api.SpanKind.INTERNAL,
          attributes: {
            'db.client.connection.pool.name': this.name,
            'db.pool.queue_length': this.queueLength(),
            'db.pool.size': this.size,
          },
        },
        api.trace.setSpan(parent, span),
      );
      await pending;
      waitMs = performance.now() - started;
      waitSpan.end();
      this.stats.queued++;
      if (trace) trace.queued++;
    }
    this.stats.total_wait_ms += waitMs;
    this.stats.max_wait_ms = Math.max(this.stats.max_wait_ms, waitMs);
    if (trace) {
      trace.waitMs += waitMs;
      trace.queries++;
    }
    span.setAttribute('db.client.connection.wait_time_ms', round3(waitMs));
    try {
      await delay(this.baseMs * cost);
      return fn ? fn() : undefined;
    } catch (err) {
      span.recordException(err);
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: String(err && err.message) });
      span.setAttribute('error.type', (err && err.name) || 'Error');
      throw err;
    } finally {
      this.release();
      span.end();
    }
  }

  snapshot() {
    return {
      pool_size: this.size,
      base_ms: this.baseMs,
      in_use: this.inUse,
      queue_length: this.queueLength(),
      ...this.stats,
      total_wait_ms: round3(this.stats.total_wait_ms),
      max_wait_ms: round3(this.stats.max_wait_ms),
    };
  }
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round3(x) {
  return Math.round(x * 1000) / 1000;
}

module.exports = { DbPool, round3 };
