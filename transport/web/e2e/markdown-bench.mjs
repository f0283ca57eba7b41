// The cost of rendering a message: markdown.js parse against the old mention splitter, in
// interleaved rounds (ADR 0042). `node transport/web/e2e/markdown-bench.mjs`.
import { parse } from '../static/js/markdown.js';
import { splitMentions } from '../static/js/state.js';
const samples = ['hello @bob, welcome to Acme', 'see **this** and `code` at https://example.com/x', '- one\n- two\n\n> quoted\n\n```\nfn main() {}\n```', 'plain text message of moderate length, nothing special in it at all, just words words words.'];
const N = 20000;
const run = (fn) => { const t = process.hrtime.bigint(); for (let i = 0; i < N; i++) fn(samples[i % samples.length]); return Number(process.hrtime.bigint() - t) / 1e6; };
for (let r = 0; r < 3; r++) { run(parse); run(splitMentions); }
const rows = [];
for (let r = 0; r < 5; r++) { const a = run(splitMentions), b = run(parse); rows.push([a, b]); }
for (const [a, b] of rows) console.log(`splitMentions ${(a / N * 1000).toFixed(2)} µs/msg, markdown parse ${(b / N * 1000).toFixed(2)} µs/msg, ratio ${(b / a).toFixed(1)}x`);
