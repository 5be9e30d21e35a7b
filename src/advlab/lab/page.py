"""The lab's web page: one HTML file, one script, one style sheet, all served by the lab.

The script talks to the JSON API only; every text from the server is inserted with
``textContent`` (never as HTML), so a user name or a grader's reason cannot inject markup.
The API key lives in the browser's ``localStorage``.
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>advlab lab</title>
<link rel="stylesheet" href="/lab.css">
<script src="/lab.js" defer></script>
</head>
<body>
<header>
  <h1>advlab lab</h1>
  <p>Graded challenges on adversarial machine learning. Register, solve, submit the flag.</p>
</header>
<section id="account">
  <h2>Account</h2>
  <form id="register-form">
    <label>User name <input id="register-user" name="user" maxlength="32" required></label>
    <button id="register-btn" type="submit">Register</button>
  </form>
  <form id="key-form">
    <label>API key <input id="key-input" name="key" autocomplete="off"></label>
    <button id="key-btn" type="submit">Use key</button>
  </form>
  <p id="whoami">Not signed in.</p>
  <p id="key-box" hidden>Your API key (shown once; the page keeps it in this browser):
    <code id="api-key"></code></p>
</section>
<section id="challenges">
  <h2>Challenges</h2>
  <div id="challenge-list"></div>
</section>
<section id="scores">
  <h2>Scoreboard</h2>
  <table id="scoreboard"><thead><tr><th>#</th><th>user</th><th>points</th><th>solved</th>
  </tr></thead><tbody></tbody></table>
</section>
</body>
</html>
"""

JS = r"""'use strict';
let apiKey = localStorage.getItem('advlab-lab-key') || '';

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function api(path, body) {
  const opts = {headers: {}};
  if (apiKey) opts.headers['Authorization'] = 'Bearer ' + apiKey;
  if (body !== undefined) {
    opts.method = 'POST';
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = {error: 'no JSON answer'}; }
  return {ok: r.ok, status: r.status, data: data};
}

function b64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

async function me() {
  const who = document.getElementById('whoami');
  if (!apiKey) { who.textContent = 'Not signed in.'; return; }
  const r = await api('/api/me');
  who.textContent = r.ok ? 'Signed in as ' + r.data.user + ' (' + r.data.solved.length +
    ' solved)' : 'The stored key is not valid here: register or paste a key.';
}

function card(c) {
  const div = el('article', {id: 'ch-' + c.name, class: 'challenge' + (c.solved ? ' solved' : '')});
  div.appendChild(el('h3', {}, c.name + (c.solved ? ' \u2713' : '')));
  div.appendChild(el('p', {class: 'meta'}, 'module ' + c.module + ' (' + c.module_title + ') \u00b7 ' +
    c.tier + ' \u00b7 ' + c.points + ' points' + (c.budget === null ? '' : ' \u00b7 budget ' +
    c.budget + ' ' + c.access + ' queries' + (c.queries_left === undefined ? '' :
    ' (' + c.queries_left + ' left)'))));
  div.appendChild(el('p', {class: 'summary'}, c.summary));
  const tm = el('details', {});
  tm.appendChild(el('summary', {}, 'Threat model and task'));
  tm.appendChild(el('p', {class: 'threat'}, c.threat_model));
  tm.appendChild(el('p', {class: 'task'}, c.task));
  const ho = el('a', {href: '/api/challenges/' + c.name, target: '_blank'}, 'handout (JSON)');
  tm.appendChild(ho);
  for (const f of c.files || []) {
    tm.appendChild(document.createTextNode(' \u00b7 '));
    tm.appendChild(el('a', {href: '/api/challenges/' + c.name + '/files/' + f, download: f}, f));
  }
  div.appendChild(tm);

  const form = el('form', {id: 'form-' + c.name, class: 'submit'});
  if (c.submission === 'text') {
    form.appendChild(el('textarea', {id: 'text-' + c.name, rows: '4', cols: '60',
      placeholder: 'your answer (JSON or text)'}));
  } else {
    form.appendChild(el('input', {id: 'file-' + c.name, type: 'file'}));
  }
  form.appendChild(el('button', {id: 'submit-' + c.name, type: 'submit'}, 'Submit for grading'));
  const result = el('p', {id: 'result-' + c.name, class: 'result'});
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    result.textContent = 'grading\u2026';
    let bytes;
    let filename = 'answer.txt';
    if (c.submission === 'text') {
      bytes = new TextEncoder().encode(document.getElementById('text-' + c.name).value);
    } else {
      const f = document.getElementById('file-' + c.name).files[0];
      if (!f) { result.textContent = 'choose a file first'; return; }
      bytes = new Uint8Array(await f.arrayBuffer());
      filename = f.name;
    }
    const r = await api('/api/challenges/' + c.name + '/submit', {data: b64(bytes), filename: filename});
    if (!r.ok) { result.textContent = 'error: ' + (r.data.error || r.status); return; }
    result.textContent = (r.data.solved ? 'Solved: ' : 'Not solved: ') + r.data.reason;
    if (r.data.flag) {
      result.appendChild(el('br'));
      result.appendChild(el('span', {}, 'Your flag: '));
      result.appendChild(el('code', {class: 'flag', id: 'flagout-' + c.name}, r.data.flag));
    }
  });
  div.appendChild(form);
  div.appendChild(result);

  const ff = el('form', {id: 'flagform-' + c.name, class: 'flag'});
  ff.appendChild(el('input', {id: 'flag-' + c.name, placeholder: 'advlab{...}', size: '42'}));
  ff.appendChild(el('button', {id: 'flagbtn-' + c.name, type: 'submit'}, 'Submit flag'));
  const fr = el('p', {id: 'flagres-' + c.name, class: 'result'});
  ff.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const flag = document.getElementById('flag-' + c.name).value;
    const r = await api('/api/flag', {challenge: c.name, flag: flag});
    fr.textContent = r.ok ? (r.data.accepted ? 'Accepted: ' : 'Refused: ') + r.data.reason :
      'error: ' + (r.data.error || r.status);
    if (r.ok && r.data.accepted) { await refresh(); }
  });
  div.appendChild(ff);
  div.appendChild(fr);
  return div;
}

async function loadChallenges() {
  const list = document.getElementById('challenge-list');
  const r = await api('/api/challenges');
  if (!r.ok) { list.textContent = 'could not load the challenges'; return; }
  list.replaceChildren(...r.data.map(card));
  list.setAttribute('data-loaded', String(r.data.length));
}

async function loadScores() {
  const body = document.querySelector('#scoreboard tbody');
  const r = await api('/api/scoreboard');
  if (!r.ok) return;
  body.replaceChildren(...r.data.map((row, i) => {
    const tr = el('tr', {'data-user': row.user});
    [String(i + 1), row.user, String(row.points), row.challenges.join(', ')].forEach(
      (t) => tr.appendChild(el('td', {}, t)));
    return tr;
  }));
  document.getElementById('scoreboard').setAttribute('data-rows', String(r.data.length));
}

async function refresh() {
  await me();
  await loadScores();
  for (const c of document.querySelectorAll('article.challenge')) {
    const r = await api('/api/challenges/' + c.id.slice(3));
    if (r.ok && r.data.solved && !c.classList.contains('solved')) {
      c.classList.add('solved');
      c.querySelector('h3').textContent = r.data.name + ' \u2713';
    }
  }
}

document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('register-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const r = await api('/api/register', {user: document.getElementById('register-user').value});
    if (!r.ok) { document.getElementById('whoami').textContent = 'error: ' + r.data.error; return; }
    apiKey = r.data.api_key;
    localStorage.setItem('advlab-lab-key', apiKey);
    document.getElementById('api-key').textContent = apiKey;
    document.getElementById('key-box').hidden = false;
    await me();
    await loadChallenges();
    document.body.setAttribute('data-user', r.data.user);
  });
  document.getElementById('key-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    apiKey = document.getElementById('key-input').value.trim();
    localStorage.setItem('advlab-lab-key', apiKey);
    await me();
    await loadChallenges();
  });
  await me();
  await loadChallenges();
  await loadScores();
  document.body.setAttribute('data-ready', '1');
});
"""

CSS = """body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 1rem auto;
  padding: 0 1rem; color: #1b1b1b; }
header h1 { margin-bottom: 0.2rem; }
section { margin: 1.5rem 0; }
article.challenge { border: 1px solid #ccc; border-radius: 6px; padding: 0.5rem 1rem;
  margin: 0.8rem 0; }
article.solved { border-color: #2a7; background: #f2fbf6; }
.meta { color: #555; font-size: 0.9rem; }
.result { font-size: 0.9rem; }
code.flag { background: #eef; padding: 0 0.3rem; }
form { margin: 0.4rem 0; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: left; }
"""
