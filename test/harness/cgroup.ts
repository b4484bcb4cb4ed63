// A memory-limited cgroup for tests that need the kernel's OOM killer to act
// on a process of theirs: cgroup v2 (memory.max) where the memory controller
// is in the unified hierarchy, else cgroup v1's memory controller
// (memory.limit_in_bytes), under the test's own cgroup where it can be found.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface MemoryCgroup {
  path: string;
  version: 1 | 2;
  /** Moves a process into the cgroup. */
  add(pid: number): void;
  /** Removes the cgroup once its processes are gone (retried while the kernel still reaps them). */
  remove(): Promise<void>;
}

const write = (file: string, value: string) => writeFileSync(file, value);

/** Where this machine's memory controller lives, or why there is none. */
export function memoryController(): { version: 1 | 2; root: string } | { missing: string } {
  const v2 = "/sys/fs/cgroup/cgroup.controllers";
  if (existsSync(v2) && readFileSync(v2, "utf8").split(/\s+/).includes("memory")) return { version: 2, root: "/sys/fs/cgroup" };
  const v1 = "/sys/fs/cgroup/memory";
  if (existsSync(join(v1, "memory.limit_in_bytes"))) {
    // Our own memory cgroup (a container's), when it is visible from here.
    const own = /^\d+:memory:(\/.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1];
    const base = own && existsSync(join(v1, own, "memory.limit_in_bytes")) ? join(v1, own) : v1;
    return { version: 1, root: base };
  }
  return { missing: "no memory cgroup controller (neither cgroup v2's memory in /sys/fs/cgroup nor cgroup v1's /sys/fs/cgroup/memory)" };
}

/** Creates a child cgroup limited to limitBytes of memory and no swap. */
export function createMemoryCgroup(name: string, limitBytes: number): MemoryCgroup {
  const controller = memoryController();
  if ("missing" in controller) throw new Error(controller.missing);
  const path = join(controller.root, name);
  mkdirSync(path);
  if (controller.version === 2) {
    const control = join(controller.root, "cgroup.subtree_control");
    if (!readFileSync(control, "utf8").split(/\s+/).includes("memory")) write(control, "+memory");
    write(join(path, "memory.max"), String(limitBytes));
    if (existsSync(join(path, "memory.swap.max"))) write(join(path, "memory.swap.max"), "0");
  } else {
    write(join(path, "memory.limit_in_bytes"), String(limitBytes));
    // memsw (memory + swap) must be set after the memory limit, and at least as high.
    if (existsSync(join(path, "memory.memsw.limit_in_bytes"))) write(join(path, "memory.memsw.limit_in_bytes"), String(limitBytes));
    if (existsSync(join(path, "memory.swappiness"))) {
      try {
        write(join(path, "memory.swappiness"), "0");
      } catch {
        // Not settable under some parents; memsw already bounds swap.
      }
    }
  }
  return {
    path,
    version: controller.version,
    add: (pid) => write(join(path, "cgroup.procs"), String(pid)),
    async remove() {
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          rmdirSync(path);
          return;
        } catch {
          await Bun.sleep(100);
        }
      }
      rmdirSync(path);
    },
  };
}
