/*
 * What wakes the files source between two polls: inotify (fs.watch) on the
 * directories that hold its files and where new ones appear. A change wakes
 * it at once; an entry created, renamed or removed also asks for a new scan
 * of the patterns. Polling goes on regardless: inotify can be unavailable
 * (its limits reached, a filesystem without it), and then it says so once.
 */
import { type FSWatcher, watch } from "node:fs";

export class DirectoryWatch {
  private watchers = new Map<string, FSWatcher>();
  private failed = false;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  /** A directory's entries changed since the last look: the patterns want a new scan. */
  rescan = true;

  constructor(private readonly unavailable: (reason: string) => void) {}

  /** Watches exactly these directories from now on (those that do not exist yet are found by polling). */
  watch(directories: ReadonlySet<string>): void {
    if (this.failed) return;
    for (const [directory, watcher] of this.watchers) {
      if (!directories.has(directory)) {
        watcher.close();
        this.watchers.delete(directory);
      }
    }
    for (const directory of directories) {
      if (this.watchers.has(directory)) continue;
      try {
        const watcher = watch(directory, { persistent: false }, (event) => this.wake(event === "rename"));
        watcher.on("error", () => {
          watcher.close();
          this.watchers.delete(directory);
        });
        this.watchers.set(directory, watcher);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        this.failed = true;
        this.unavailable(code ?? (error as Error).message);
        return;
      }
    }
  }

  /** Waits `ms`, or less: until a watched directory changes or the signal aborts. */
  async idle(ms: number, signal: AbortSignal): Promise<void> {
    if (this.woken || signal.aborted) {
      this.woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
      signal.addEventListener("abort", done, { once: true });
    });
    this.woken = false;
  }

  close(): void {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private wake(rescan: boolean): void {
    if (rescan) this.rescan = true;
    this.woken = true;
    this.wakeUp?.();
  }
}
