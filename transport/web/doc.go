// Package web serves parley's browser client and its /docs page. The assets are plain ES
// modules and CSS embedded in the binary (static/): no build step, no CDN, nothing to
// install to run them.
//
// # Serving
//
// Handler serves index.html at / (and at any path that names no file, so that a deep link
// reloads) and the assets under /static/. index.html and docs.html name their assets under
// /static/v-{hash}/, where hash covers every embedded file: those URLs never change content
// and are cached for a year (immutable); the pages themselves, and /static/ without a
// version, revalidate on every load with an ETag. Relative imports between the modules
// inherit the versioned prefix, so one deploy switches every file at once. Text assets are
// gzipped once at start. Pages carry a Content-Security-Policy that allows this origin only.
// Docs serves /docs, a reader of /openapi.json.
//
// # The client (static/js)
//
//   - stomp.js: a STOMP 1.2 client on one WebSocket (frames, header escaping, receipts,
//     heart-beats both ways).
//   - realtime.js: keeps a session alive: on a drop it shows "reconnecting", retries with
//     exponential backoff and jitter (0.5 s doubling to 10 s), and on every new session
//     subscribes again to the user's queues and to each channel with since-seq = the last
//     seq that channel's subscription delivered, so the server replays exactly what was
//     missed.
//   - state.js: the model of a channel, keyed by seq. History pages, live events and
//     replays all merge there, so a message seen twice shows once; unread = lastSeq −
//     lastReadSeq, as the server counts it. DOM-free, unit-tested with node --test.
//   - attention.js: the tab title's count, desktop notifications (permission asked on a
//     click) and an optional sound for mentions and DMs, as preferences and do-not-disturb
//     allow; its decisions are pure functions, unit-tested.
//   - view-people.js: direct messages, profiles, channel preferences, do-not-disturb and
//     presence dots (presence arrives on /user/queue/presence for the users the page shows).
//   - app.js: the controller (session, routes in the URL fragment, workspaces, channels,
//     sending with clientMsgId over STOMP, else REST, else queued until the connection is
//     back); view-*.js render it with keyed reconciliation (dom.js) so that live updates keep
//     focus, scroll position and open editors.
//
// # Tests
//
// TestClientModules runs e2e/unit.test.mjs with node. TestBrowserE2E runs e2e/test.mjs:
// two users in Debian's chromium driven by playwright-core against a real in-process node
// behind a TCP proxy that the script cuts to drop every connection; it skips with a message
// where chromium or e2e/node_modules (make npm) is missing. Screenshots go to artifacts/.
package web
