"""Basic accessibility checks run in the browser on every page the browser tests visit.

Not a full audit: the checks a page must pass to be usable by keyboard and screen reader
and readable at a glance (lang, one h1 and ordered headings, a label for every input,
header cells in every table, named images, text contrast of at least 4.5:1, 3:1 for large
text).
"""

from __future__ import annotations

from typing import Any

CHECKS = r"""
() => {
  const out = [];
  const lang = document.documentElement.getAttribute('lang');
  if (!lang) out.push('html has no lang');
  const h1 = document.querySelectorAll('h1');
  if (h1.length !== 1) out.push(`${h1.length} h1 elements`);
  let last = 0;
  for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
    const level = Number(h.tagName[1]);
    if (last && level > last + 1) out.push(`heading ${h.tagName} after h${last}: "${h.textContent.trim()}"`);
    last = level;
  }
  for (const el of document.querySelectorAll('input, select, textarea')) {
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (['hidden', 'submit', 'button', 'reset'].includes(type)) continue;
    const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) ||
      el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) out.push(`unlabelled ${el.tagName.toLowerCase()} name=${el.name}`);
  }
  for (const t of document.querySelectorAll('table')) {
    if (!t.querySelector('th')) out.push('a table without header cells');
  }
  for (const s of document.querySelectorAll('svg[role="img"], img')) {
    if (!(s.getAttribute('aria-label') || s.getAttribute('alt') || s.querySelector('title')))
      out.push('an image without a text alternative');
  }
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(',').map(x => parseFloat(x));
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const seen = new Set();
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg') || el.closest('.visually-hidden') || el.closest('.skip-link')) continue;
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.display === 'none') continue;
    const fg = parse(st.color), bg = background(el);
    if (!fg) continue;
    const a = lum(fg), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    const key = `${st.color}/${bg.r},${bg.g},${bg.b}`;
    if (ratio < need && !seen.has(key)) {
      seen.add(key);
      out.push(`contrast ${ratio.toFixed(2)} < ${need} for "${el.textContent.trim().slice(0, 40)}"`);
    }
  }
  return out;
}
"""


def problems(page: Any) -> list[str]:
    return page.evaluate(CHECKS)
