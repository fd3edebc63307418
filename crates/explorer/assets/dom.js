// Building the page. Every piece of data is inserted as text (a text node
// or textContent), never parsed as HTML: whatever a transaction carries
// shows as the characters it is.

/** An element `tag` with attributes `attrs` and children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings, numbers, arrays of them) to `el`. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A link to a route of the explorer (`#/...`). */
export function link(route, text, attrs = {}) {
  return h('a', { href: '#' + route, ...attrs }, text);
}

/** A table with a caption, column headings and rows of cells. */
export function table(caption, headings, rows, attrs = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, headings.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.length
        ? rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))
        : h('tr', {}, h('td', { colspan: headings.length, class: 'empty' }, 'none')))));
}

/** A description list of [term, value] pairs. */
export function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** A section with a heading. */
export function section(title, ...children) {
  return h('section', {}, h('h2', {}, title), children);
}

/** JSON shown as text in a preformatted block. */
export function json(value) {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

/** A message saying what went wrong, as text. */
export function problem(text) {
  return h('p', { class: 'problem', role: 'alert' }, text);
}
