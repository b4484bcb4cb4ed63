// Filter forms whose state lives in the hash (#/history?status=failed…), so
// a filtered page is a link, and Back goes to the previous filter or page.
import { h, type Child } from "../dom.ts";

export interface FilterField {
  name: string;
  label: string;
  type: "text" | "datetime" | "select";
  options?: [value: string, label: string][];
}

/** Epoch ms (as the API takes times) from a datetime-local value, which is local time. */
export function localToEpoch(value: string): string | undefined {
  if (!value) return undefined;
  const at = new Date(value).getTime();
  return Number.isNaN(at) ? undefined : String(at);
}

/** A datetime-local value (local time) from epoch ms. */
export function epochToLocal(value: string | null): string {
  if (!value || !/^\d+$/.test(value)) return "";
  const at = new Date(Number(value));
  if (Number.isNaN(at.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

/** A form of filters; submitting it navigates to `route` with the filled fields (times as epoch ms) plus `fixed`. */
export function filterForm(route: string, fields: FilterField[], query: URLSearchParams, fixed: Record<string, string>, label: string, extra?: Child): HTMLFormElement {
  const controls = fields.map((field) => {
    const id = `filter-${field.name}`;
    const current = query.get(field.name) ?? "";
    let control: HTMLInputElement | HTMLSelectElement;
    if (field.type === "select") {
      control = h("select", { id, name: field.name }, (field.options ?? []).map(([value, text]) => h("option", { value, selected: value === current }, text)));
    } else if (field.type === "datetime") {
      control = h("input", { id, name: field.name, type: "datetime-local", value: epochToLocal(current) });
    } else {
      control = h("input", { id, name: field.name, type: "search", autocomplete: "off", value: current });
    }
    return { field, control, element: h("div", { class: "field" }, h("label", { for: id }, field.label), control) };
  });
  const form = h("form", { class: "toolbar filters", role: "search", "aria-label": label }, controls.map((c) => c.element), h("div", { class: "field field-actions" }, h("button", { type: "submit" }, "Apply filters"), h("a", { href: `${route}${new URLSearchParams(fixed).size ? `?${new URLSearchParams(fixed)}` : ""}`, class: "button-link secondary" }, "Clear")), extra);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams(fixed);
    for (const { field, control } of controls) {
      const raw = control.value.trim();
      const value = field.type === "datetime" ? localToEpoch(raw) : raw;
      if (value) params.set(field.name, value);
    }
    const text = params.toString();
    location.hash = `${route}${text ? `?${text}` : ""}`;
  });
  return form;
}
