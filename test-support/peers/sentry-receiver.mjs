#!/usr/bin/env node
// A real Sentry envelope receiver for glimpse-telemetry's integration tests.
//
// Starts Sentry's Spotlight sidecar (@spotlightjs/spotlight) on a free port,
// bound to 127.0.0.1 only, and reports on stdout, one JSON object per line:
//
//   {"ready":true,"port":PORT,"dsn":"http://public@127.0.0.1:PORT/0"}
//   {"envelope":[<envelope header>,[[<item header>,<item payload>],...]]}
//   ...
//
// Envelopes are accepted at POST /api/<project>/envelope/ (what a Sentry SDK
// configured with the DSN above sends to). Each envelope is reported as
// Spotlight parsed it: JSON item payloads are objects (with the item type
// copied into their "type" field), binary/raw items are {"data": "..."}, and
// the envelope header carries Spotlight's own "__spotlight_*" bookkeeping keys.
//
// Spotlight's diagnostics go to stderr. Its self-telemetry (Sentry.init with
// Spotlight's own DSN) lives in dist/instrument.js, which only the CLI
// entrypoint (dist/run.js) imports; this wrapper never loads it, so no
// Sentry client exists in this process and nothing leaves the machine.
//
// The process exits when its stdin is closed (so a crashed test never leaves
// an orphan receiver behind) and on SIGTERM / SIGINT.
import http from 'node:http';

const HOST = '127.0.0.1';
const ENVELOPE_PATH = /^\/api\/[^/]+\/envelope\/?(\?.*)?$/;

// Spotlight hands `serve({port})` to @hono/node-server, which calls
// `server.listen(port, undefined, cb)`: every interface. Force loopback for
// any listen() in this process that does not name a host itself.
const originalListen = http.Server.prototype.listen;
http.Server.prototype.listen = function listen(...args) {
    if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
        if (typeof args[1] !== 'string') {
            // (port, [hostname: undefined|null], [backlog], [cb])
            if (args.length > 1 && (args[1] === undefined || args[1] === null)) {
                args[1] = HOST;
            } else {
                args.splice(1, 0, HOST);
            }
        }
    } else if (args[0] && typeof args[0] === 'object' && !('path' in args[0]) && !args[0].host) {
        args[0] = {...args[0], host: HOST};
    }
    // Real Sentry (and GlitchTip) ingest an envelope whatever its
    // Content-Type, and sentry-rust's transports send none at all; Spotlight
    // silently drops a POST without one. Default it before Hono sees the request.
    this.prependListener('request', (req) => {
        if (
            req.method === 'POST' &&
            ENVELOPE_PATH.test(req.url || '') &&
            !req.rawHeaders.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'content-type')
        ) {
            req.rawHeaders.push('Content-Type', 'application/x-sentry-envelope');
            if (req.headers && !req.headers['content-type']) {
                req.headers['content-type'] = 'application/x-sentry-envelope';
            }
        }
    });
    return originalListen.apply(this, args);
};

let exiting = false;
function shutdown(code) {
    if (exiting) return;
    exiting = true;
    process.exit(code);
}

// Registered before Spotlight's own SIGTERM handler (a graceful close that
// would keep us alive while a client holds a keep-alive connection).
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
process.stdin.on('end', () => shutdown(0));
process.stdin.on('close', () => shutdown(0));
process.stdin.on('error', () => shutdown(0));
process.stdin.resume();
process.stdout.on('error', () => shutdown(0));

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

const spotlightLogger = {
    info: (m) => process.stderr.write(`[sentry-receiver] ${m}\n`),
    warn: (m) => process.stderr.write(`[sentry-receiver] warn: ${m}\n`),
    error: (m) => process.stderr.write(`[sentry-receiver] error: ${m && m.stack ? m.stack : typeof m === 'object' ? JSON.stringify(m) : m}\n`),
    debug: () => {},
};

try {
    // Never let Spotlight write captured payloads to the working directory.
    delete process.env.SPOTLIGHT_CAPTURE;

    // Spotlight 4.11.8's request middleware records
    // `ctx.req.query().toString()` as a span attribute. Since hono 4.12.x
    // (this package overrides hono to 4.12.34) `query()` returns a
    // null-prototype object, so that call throws and EVERY request, envelope
    // POSTs included, is answered 500. Give the no-key result a non-enumerable
    // toString again; the attribute goes to a no-op span anyway.
    const {HonoRequest} = await import('hono/request');
    const originalQuery = HonoRequest.prototype.query;
    HonoRequest.prototype.query = function query(...args) {
        const result = originalQuery.apply(this, args);
        if (args[0] === undefined && result && typeof result === 'object' && typeof result.toString !== 'function') {
            Object.defineProperty(result, 'toString', {value: Object.prototype.toString, enumerable: false});
        }
        return result;
    };

    const {setupSpotlight} = await import('@spotlightjs/spotlight');
    // The message buffer Spotlight's /stream endpoint serves from. Not in the
    // package's "exports", so import the very same module file by path (same
    // URL => same module instance as the one the server uses).
    const {getBuffer} = await import(
        new URL('./node_modules/@spotlightjs/spotlight/dist/server/utils/getBuffer.js', import.meta.url).href
    );

    const server = await setupSpotlight({
        port: 0,
        logger: spotlightLogger,
        isStandalone: true,
    });
    if (!server) {
        throw new Error('setupSpotlight() returned no server');
    }
    const addr = server.address();
    if (!addr || typeof addr !== 'object' || addr.address !== HOST) {
        throw new Error(`Spotlight is not bound to ${HOST}: ${JSON.stringify(addr)}`);
    }

    getBuffer().subscribe((container) => {
        const parsed = container.getParsedEnvelope();
        if (!parsed) {
            process.stderr.write(
                `[sentry-receiver] unparseable payload (${container.getContentType()}, ${container.getData().length} bytes)\n`
            );
            return;
        }
        emit({envelope: parsed.envelope});
    });

    emit({ready: true, port: addr.port, dsn: `http://public@${HOST}:${addr.port}/0`});
} catch (err) {
    process.stderr.write(`[sentry-receiver] failed to start: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
}
