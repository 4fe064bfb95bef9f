// dom.js: building DOM nodes without innerHTML, so text from the data can never inject markup.

/** Creates an element: h('p', {class: 'x'}, 'text', child, ...). Attributes starting with `on`
 * and given a function become event listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function' && k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
