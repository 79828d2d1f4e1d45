#!/usr/bin/env node
// A real OTLP receiver for glimpse-telemetry's integration tests.
//
// Starts @elastic/mockotlpserver's OTLP/HTTP (protobuf + JSON) and OTLP/gRPC
// services on 127.0.0.1, each on a free port, and reports on stdout, one JSON
// object per line:
//
//   {"ready":true,"http":"http://127.0.0.1:PORT","grpc":"http://127.0.0.1:PORT"}
//   {"signal":"trace","data":<normalizeTrace(ExportTraceServiceRequest)>}
//   ...
//
// With OTLP_RECEIVER_COUNT=1, a trace export request is reported as
// {"signal":"trace","spans":N,"roots":R}.
//
// Metrics and logs export requests are reported as
// {"signal":"metrics",...} / {"signal":"logs",...} lines in the same way.
// Everything else (the mock server's own logging) goes to stderr, at warn
// level unless MOCKOTLPSERVER_LOG_LEVEL says otherwise.
//
// The process exits when its stdin is closed (so a crashed test never leaves
// an orphan receiver behind) and on SIGTERM / SIGINT.
'use strict';

const {
    MockOtlpServer,
    normalizeTrace,
    normalizeMetrics,
    normalizeLogs,
} = require('@elastic/mockotlpserver');

const HOST = '127.0.0.1';
const LEVELS = {trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60};

// A minimal stand-in for mockotlpserver's luggite logger: the luggite logger
// always writes to stdout, which is reserved for the protocol here.
function stderrLogger(levelName) {
    let level = LEVELS[levelName] ?? LEVELS.warn;
    const log = {
        level(value) {
            if (value === undefined) return level;
            level = typeof value === 'number' ? value : LEVELS[String(value).toLowerCase()] ?? level;
            return undefined;
        },
    };
    for (const [name, num] of Object.entries(LEVELS)) {
        log[name] = (...args) => {
            if (num < level) return;
            const parts = args.map((a) => {
                if (a instanceof Error) return a.stack || String(a);
                if (a && typeof a === 'object') {
                    if (a.err instanceof Error) return a.err.stack || String(a.err);
                    try {
                        return JSON.stringify(a);
                    } catch {
                        return String(a);
                    }
                }
                return String(a);
            });
            process.stderr.write(`[otlp-receiver] ${name}: ${parts.join(' ')}\n`);
        };
    }
    return log;
}

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

// normalizeTrace() et al. turn the gRPC flavour's 64-bit `Long` objects into
// decimal strings only for a few known fields (span start/end times); others,
// e.g. span events' `timeUnixNano`, stay `{"low":..,"high":..,"unsigned":..}`.
// Convert every remaining one, so all three OTLP flavours look alike.
function isLong(v) {
    return (
        v !== null &&
        typeof v === 'object' &&
        typeof v.low === 'number' &&
        typeof v.high === 'number' &&
        typeof v.unsigned === 'boolean' &&
        Object.keys(v).length === 3
    );
}
function longToString(v) {
    const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
    return (v.unsigned ? bits : BigInt.asIntN(64, bits)).toString();
}
function fixLongs(v) {
    if (Array.isArray(v)) {
        return v.map(fixLongs);
    }
    if (v !== null && typeof v === 'object') {
        if (isLong(v)) {
            return longToString(v);
        }
        const out = {};
        for (const [k, x] of Object.entries(v)) {
            out[k] = fixLongs(x);
        }
        return out;
    }
    return v;
}

// OTLP_RECEIVER_COUNT=1 (scripts/load-stacks): a collector's cost rather than a test's: each
// export request is decoded and answered as usual, but reported as one short line,
// {"signal":"trace","spans":N,"roots":R} (R: spans without a parent), instead of printed span
// by span.
const COUNT_ONLY = process.env.OTLP_RECEIVER_COUNT === '1';
function countSpans(raw) {
    let spans = 0;
    let roots = 0;
    for (const rs of (raw && raw.resourceSpans) || []) {
        for (const ss of rs.scopeSpans || []) {
            for (const span of ss.spans || []) {
                spans += 1;
                if (!span.parentSpanId || span.parentSpanId.length === 0) roots += 1;
            }
        }
    }
    return {spans, roots};
}

function safeEmit(signal, normalize, raw) {
    if (COUNT_ONLY) {
        if (signal === 'trace') emit({signal, ...countSpans(raw)});
        else emit({signal});
        return;
    }
    let data;
    try {
        data = fixLongs(normalize(raw));
    } catch (err) {
        process.stderr.write(`[otlp-receiver] could not normalize ${signal}: ${err && err.stack}\n`);
        return;
    }
    emit({signal, data});
}

let server = null;
let exiting = false;
function shutdown(code) {
    if (exiting) return;
    exiting = true;
    // Do not wait for a graceful close: an exporter may hold a keep-alive
    // connection open, and the receiver's only job is to go away.
    process.exit(code);
}

process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
// The parent closes our stdin when it drops the receiver, or when it dies.
process.stdin.on('end', () => shutdown(0));
process.stdin.on('close', () => shutdown(0));
process.stdin.on('error', () => shutdown(0));
process.stdin.resume();
// The reader of our stdout went away: nobody is listening any more.
process.stdout.on('error', () => shutdown(0));

async function main() {
    server = new MockOtlpServer({
        log: stderrLogger(process.env.MOCKOTLPSERVER_LOG_LEVEL || 'warn'),
        services: ['http', 'grpc'],
        httpHostname: HOST,
        httpPort: 0,
        grpcHostname: HOST,
        grpcPort: 0,
        onTrace: (trace) => safeEmit('trace', normalizeTrace, trace),
        onMetrics: (metrics) => safeEmit('metrics', normalizeMetrics, metrics),
        onLogs: (logs) => safeEmit('logs', normalizeLogs, logs),
    });
    await server.start();
    const strip = (url) => String(url).replace(/\/$/, '');
    emit({ready: true, http: strip(server.httpUrl), grpc: strip(server.grpcUrl)});
}

main().catch((err) => {
    process.stderr.write(`[otlp-receiver] failed to start: ${err && err.stack}\n`);
    process.exit(1);
});
