// The SQLite journal's asynchronous face (sqlite-async.ts) beyond the contract:
// work runs inside the call when nobody holds the connection's turn, waits in
// order while a transaction holds it, and a savepoint's misuse is refused.
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { useFreshJournal } from "./testing.ts";
import type { Journal } from "./types.ts";

let location: string;
let journal: Journal;
useFreshJournal("opskit-journal-async-", (fresh, file) => {
  journal = fresh;
  location = file;
});

function settingOnDisk(key: string): string | undefined {
  const db = new Database(location, { readonly: true, strict: true });
  try {
    return db.query<{ value: string }, { key: string }>("SELECT value FROM settings WHERE key = $key").get({ key })?.value;
  } finally {
    db.close();
  }
}

test("work asked while no transaction holds the connection is committed inside the call, before it returns", async () => {
  const written = journal.putSetting("a", "1");
  expect(settingOnDisk("a")).toBe("1");
  await written;
  // A transaction's statements run inside the call too; its commit follows once its callback settles.
  const committed = journal.transaction(async (tx) => {
    await tx.putSetting("b", "2");
  });
  expect(settingOnDisk("b")).toBeUndefined();
  await committed;
  expect(settingOnDisk("b")).toBe("2");
});

test("a transaction's stores are refused while one of its nested transactions is under way, and nothing commits", async () => {
  let inner: Promise<void> | undefined;
  await expect(
    journal.transaction(async (tx) => {
      inner = tx.transaction(async (nested) => {
        await nested.putSetting("a", "1");
      });
      await tx.putSetting("b", "2");
    }),
  ).rejects.toThrow(/nested transaction is under way: await it first/);
  await inner;
  expect([await journal.getSetting("a"), await journal.getSetting("b")]).toEqual([undefined, undefined]);
});

test("work asked during a transaction waits for it and then runs in the order asked", async () => {
  const order: string[] = [];
  const first = journal.transaction(async (tx) => {
    await new Promise((resolve) => setTimeout(resolve, 10));
    await tx.putSetting("k", "transaction");
    order.push("transaction");
  });
  const second = journal.putSetting("k", "after").then(() => order.push("put"));
  const third = journal.getSetting("k").then((value) => order.push(`read ${value}`));
  await Promise.all([first, second, third]);
  expect(order).toEqual(["transaction", "put", "read after"]);
});
