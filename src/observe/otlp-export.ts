// What the trace and metric exporters share about talking to a collector:
// how its address may be shown, and how long anyone waits for it.

/** The collector's URL as a message may show it: no user or password in it. */
export function shownUrl(text: string): string {
  try {
    const url = new URL(text);
    url.username = "";
    url.password = "";
    return url.toString();
  } catch {
    return text;
  }
}

/** Resolves true when `work` settles within timeoutMs, false when the time runs out first; never rejects. */
export function settlesWithin(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    (timer as { unref?: () => void }).unref?.();
  });
  return Promise.race([work.then(() => true, () => true), timeout]).finally(() => clearTimeout(timer));
}
