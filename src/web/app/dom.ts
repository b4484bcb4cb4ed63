// Building DOM without markup: every string becomes a text node or an
// attribute value, never HTML, so alert labels, annotations and command
// output (attacker-controlled) cannot become elements or scripts.

export type Child = Node | string | number | false | null | undefined | readonly Child[];
export type Attrs = Record<string, string | number | boolean | null | undefined>;

const SVG_NS = "http://www.w3.org/2000/svg";
/** Attributes that load or navigate: only internal routes and validated http(s) URLs may go there. */
const urlAttributes = new Set(["href", "src", "action", "formaction", "xlink:href", "poster", "data"]);

/**
 * An http(s) URL as written, or undefined: `javascript:`, `data:` and
 * anything URL cannot parse are never links.
 */
export function safeExternalUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
}

function safeUrlAttribute(value: string): string | undefined {
  // A fragment (the page's own routes) never leaves the page; else only http(s).
  if (value.startsWith("#")) return value;
  return safeExternalUrl(value);
}

function setAttributes(element: Element, attrs: Attrs | undefined): void {
  if (!attrs) return;
  for (const [name, raw] of Object.entries(attrs)) {
    if (raw === undefined || raw === null || raw === false) continue;
    const lower = name.toLowerCase();
    // Handlers and inline styles from strings are what CSP forbids; refuse them here too.
    if (lower.startsWith("on") || lower === "style" || lower === "srcdoc") throw new Error(`attribute ${name} is not settable from data`);
    let value = raw === true ? "" : String(raw);
    if (urlAttributes.has(lower)) {
      const safe = safeUrlAttribute(value);
      if (safe === undefined) continue;
      value = safe;
    }
    element.setAttribute(name === "className" ? "class" : name, value);
  }
}

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child as readonly Child[]) append(parent, c);
    return;
  }
  parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
}

/** An HTML element with attributes (set with setAttribute) and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  setAttributes(element, attrs);
  for (const child of children) append(element, child);
  return element;
}

/** An SVG element, built with createElementNS like h(). */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  setAttributes(element, attrs);
  for (const child of children) append(element, child);
  return element;
}

/** A button that runs `onClick`; `key` lets a re-render give focus back to its successor. */
export function button(label: Child, onClick: (event: MouseEvent) => void, attrs: Attrs = {}): HTMLButtonElement {
  const b = h("button", { type: "button", ...attrs }, label);
  b.addEventListener("click", onClick);
  return b;
}

/** A link to an internal route (#/…). */
export function routeLink(route: string, label: Child, attrs: Attrs = {}): HTMLAnchorElement {
  return h("a", { ...attrs, href: route }, label);
}

/** A value that may be a URL: a link when it is http(s), else plain text. */
export function maybeLink(value: string): Node {
  const url = safeExternalUrl(value.trim());
  if (!url || /\s/.test(value.trim())) return document.createTextNode(value);
  return h("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank", referrerpolicy: "no-referrer" }, value);
}

/**
 * Replaces a container's content and gives back what a person was doing in
 * it: the focused control (matched by data-key) and which <details> were
 * open, so an update arriving between Tab and Enter does not lose the place.
 */
export function replaceContent(container: Element, ...children: Child[]): void {
  const active = document.activeElement;
  const focusKey = active && container.contains(active) ? active.getAttribute("data-key") : null;
  const open = new Map<string, boolean>();
  for (const d of container.querySelectorAll<HTMLDetailsElement>("details[data-key]")) open.set(d.dataset.key!, d.open);
  const fragment = document.createDocumentFragment();
  for (const child of children) append(fragment, child);
  container.replaceChildren(fragment);
  for (const d of container.querySelectorAll<HTMLDetailsElement>("details[data-key]")) {
    const was = open.get(d.dataset.key!);
    if (was !== undefined) d.open = was;
  }
  if (focusKey !== null) container.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
}

/** Sets a node's text only when it changed (cheap in-place updates). */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

/** Sets or removes an attribute only when it changed. */
export function setAttr(element: Element, name: string, value: string | undefined): void {
  if (value === undefined) {
    if (element.hasAttribute(name)) element.removeAttribute(name);
  } else if (element.getAttribute(name) !== value) {
    setAttributes(element, { [name]: value });
  }
}
