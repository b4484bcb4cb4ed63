// The API token lives in sessionStorage: gone with the tab, never a cookie,
// so no other site's request can carry it; it is sent only as a header.
const KEY = "opskit.token";

type Listener = () => void;
const listeners = new Set<Listener>();

export function getToken(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function setToken(token: string | undefined): void {
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage refused (private mode quotas): the token then lasts until the next reload only.
  }
  for (const listener of listeners) listener();
}

/** Called whenever the token is set or cleared; returns the unsubscribe. */
export function onTokenChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
