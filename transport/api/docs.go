package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

// docsPage renders /openapi.json in the browser with no external assets (no CDN): a list of
// operations grouped by tag, each with its parameters, body and responses.
const docsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>parley API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:1rem 2rem;color:#222}
h2{border-bottom:1px solid #ddd;margin-top:2rem;text-transform:capitalize}
details{border:1px solid #e3e3e3;border-radius:6px;margin:.4rem 0;padding:.3rem .7rem}
summary{cursor:pointer}
.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}
.GET{color:#0a7}.POST{color:#06c}.PUT{color:#a60}.PATCH{color:#a0a}.DELETE{color:#c22}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
</style></head><body>
<h1>parley API</h1><p id="desc"></p><div id="ops">Loading /openapi.json…</div>
<script>
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
fetch('/openapi.json').then(r => r.json()).then(doc => {
  document.getElementById('desc').textContent = doc.info.description;
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item))
      (byTag[op.tags[0]] ||= []).push({path, method: method.toUpperCase(), op});
  let html = '';
  for (const [tag, ops] of Object.entries(byTag)) {
    html += '<h2>' + esc(tag) + '</h2>';
    for (const {path, method, op} of ops) {
      html += '<details><summary><span class="m ' + method + '">' + method + '</span> <code>' + esc(path) +
        '</code> — ' + esc(op.summary) + (op.security && op.security.length === 0 ? ' (no token)' : '') + '</summary>';
      if (op.parameters) html += '<p>Parameters: ' + op.parameters.map(p => '<code>' + esc(p.name) + '</code> (' + p.in + ')').join(', ') + '</p>';
      if (op.requestBody) html += '<p>Body:</p><pre>' + esc(JSON.stringify(op.requestBody.content['application/json'].schema, null, 1)) + '</pre>';
      html += '<p>Responses: ' + Object.keys(op.responses).join(', ') + '</p></details>';
    }
  }
  html += '<h2>Schemas</h2><pre>' + esc(JSON.stringify(doc.components.schemas, null, 1)) + '</pre>';
  document.getElementById('ops').innerHTML = html;
});
</script></body></html>
`

func (a *API) docs(context.Context, *http.Request, persistence.User) (int, any, error) {
	return http.StatusOK, rawBody{contentType: "text/html; charset=utf-8", body: []byte(docsPage)}, nil
}
