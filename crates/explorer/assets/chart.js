// A small bar chart in inline SVG, drawn with DOM calls (no library).

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/**
 * A bar chart of `values` (numbers, oldest first) titled `title`, with the
 * unit `unit`; `labels[i]` names bar i in its tooltip.
 */
export function barChart(title, values, unit, labels = []) {
  const width = 320, height = 90, pad = 4;
  const max = Math.max(1, ...values);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height + 14}`, role: 'img', class: 'chart' });
  const t = svg('title');
  const last = values.length ? values[values.length - 1] : 0;
  t.textContent = `${title}: ${values.length} values, latest ${last} ${unit}, highest ${max} ${unit}`;
  root.append(t);
  root.append(svg('line', { x1: 0, y1: height, x2: width, y2: height, class: 'axis' }));
  const n = Math.max(values.length, 1);
  const bw = (width - pad) / n;
  values.forEach((v, i) => {
    const bh = Math.max(1, Math.round((v / max) * (height - pad)));
    const r = svg('rect', { x: (i * bw + 1).toFixed(1), y: height - bh, width: Math.max(1, bw - 2).toFixed(1), height: bh, class: 'bar' });
    const tip = svg('title');
    tip.textContent = `${labels[i] ?? ''} ${v} ${unit}`.trim();
    r.append(tip);
    root.append(r);
  });
  const cap = svg('text', { x: 0, y: height + 12, class: 'chart-label' });
  cap.textContent = `max ${max} ${unit}`;
  root.append(cap);
  return root;
}
