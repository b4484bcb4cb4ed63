import { describe, expect, test } from "bun:test";
import { ansibleSource } from "./ansible.ts";
import type { HostRecord } from "./types.ts";

async function load(text: string, file = "inventory"): Promise<Map<string, HostRecord>> {
  const hosts = await ansibleSource.load(text, { file: `/project/${file}`, display: file, homeDir: "/home/u", env: {}, readText: () => Promise.reject(new Error("unused")) });
  return new Map(hosts.map((h) => [h.name, h]));
}

const ini = `
# ungrouped hosts come first
mail.example.com

[webservers]
web[01:03].example.com ansible_user=deploy http_port=8080
web-legacy.example.com:2222 ansible_host=10.0.0.9 ansible_ssh_private_key_file=keys/legacy.pem

[dbservers]
db-[a:b].example.com ansible_port=5022 backup="yes please"

[webservers:vars]
ntp_server=ntp.web.example.com
http_port=80

[prod:children]
webservers
dbservers

[prod:vars]
ntp_server=ntp.prod.example.com
ansible_user=admin
bastion_args=x

[all:vars]
ansible_ssh_common_args='-o ProxyJump=jump.example.com'
`;

describe("Ansible INI inventory", () => {
  test("expands host ranges and reads host:port", async () => {
    const hosts = await load(ini);
    expect([...hosts.keys()]).toEqual([
      "mail.example.com",
      "web01.example.com",
      "web02.example.com",
      "web03.example.com",
      "web-legacy.example.com",
      "db-a.example.com",
      "db-b.example.com",
    ]);
    expect(hosts.get("web-legacy.example.com")!.port).toBe(2222);
    expect(hosts.get("web02.example.com")!.source).toBe("inventory:6");
  });

  test("maps ansible_host, ansible_port, ansible_user and ansible_ssh_private_key_file to target fields and keeps other vars", async () => {
    const hosts = await load(ini);
    const legacy = hosts.get("web-legacy.example.com")!;
    expect(legacy).toMatchObject({ address: "10.0.0.9", keys: ["keys/legacy.pem"], user: "admin" });
    expect(legacy.vars).not.toHaveProperty("ansible_host");
    expect(hosts.get("db-a.example.com")).toMatchObject({ port: 5022, vars: { backup: "yes please" } });
  });

  test("group vars apply from the least specific group to the most, and host vars win", async () => {
    const web = (await load(ini)).get("web01.example.com")!;
    // webservers (a child of prod) beats prod; the inline host var beats both.
    expect(web.vars).toMatchObject({ ntp_server: "ntp.web.example.com", http_port: 8080, bastion_args: "x" });
    expect(web.user).toBe("deploy");
    const db = (await load(ini)).get("db-b.example.com")!;
    expect(db.vars.ntp_server).toBe("ntp.prod.example.com");
    expect(db.user).toBe("admin");
  });

  test("inline values are literals; [group:vars] values stay strings", async () => {
    const web = (await load(ini)).get("web01.example.com")!;
    expect(web.vars.http_port).toBe(8080);
    const mail = (await load(ini)).get("mail.example.com")!;
    expect(mail.vars).toEqual({ ansible_ssh_common_args: "-o ProxyJump=jump.example.com" });
  });

  test("group membership includes parent groups, without all and ungrouped", async () => {
    const hosts = await load(ini);
    expect(hosts.get("web01.example.com")!.groups).toEqual(["prod", "webservers"]);
    expect(hosts.get("db-a.example.com")!.groups).toEqual(["dbservers", "prod"]);
    expect(hosts.get("mail.example.com")!.groups).toEqual([]);
  });

  test("a ProxyJump in ansible_ssh_common_args becomes proxyJump", async () => {
    expect((await load(ini)).get("mail.example.com")!.proxyJump).toBe("jump.example.com");
  });

  test("errors name file:line", async () => {
    await expect(load("[web]\nweb-1 port\n")).rejects.toThrow("inventory:2: expected key=value after the host name");
    await expect(load("[web:children]\ndb\n[db:children]\nweb\n")).rejects.toThrow('group "web" contains itself');
    await expect(load("[web]\nweb-1 ansible_port=ssh\n")).rejects.toThrow('inventory:2: ansible_port "ssh" of web-1 is not a port number');
  });
});

const yaml = `
all:
  vars:
    ntp_server: ntp.example.com
  hosts:
    mail.example.com:
  children:
    webservers:
      vars:
        http_port: 80
      hosts:
        web[1:2].example.com:
          ansible_user: deploy
        web-legacy.example.com:
          ansible_host: 10.0.0.9
          ansible_port: 2222
          http_port: 8081
    prod:
      children:
        webservers:
        dbservers:
          hosts:
            db-1.example.com:
              ansible_ssh_private_key_file: ~/.ssh/db.pem
`;

describe("Ansible YAML inventory", () => {
  test("reads all/children/hosts/vars, ranges included", async () => {
    const hosts = await load(yaml, "hosts.yml");
    expect([...hosts.keys()]).toEqual(["mail.example.com", "web1.example.com", "web2.example.com", "web-legacy.example.com", "db-1.example.com"]);
    expect(hosts.get("web1.example.com")).toMatchObject({ user: "deploy", vars: { ntp_server: "ntp.example.com", http_port: 80 }, groups: ["prod", "webservers"] });
    expect(hosts.get("web-legacy.example.com")).toMatchObject({ address: "10.0.0.9", port: 2222, vars: { http_port: 8081 } });
    expect(hosts.get("db-1.example.com")).toMatchObject({ keys: ["~/.ssh/db.pem"], groups: ["dbservers", "prod"] });
    expect(hosts.get("db-1.example.com")!.source).toBe("hosts.yml:23:13");
  });

  test("is recognised without a .yml extension", async () => {
    const hosts = await load(yaml, "inventory");
    expect(hosts.has("db-1.example.com")).toBe(true);
  });

  test("a host listed directly under a group instead of under hosts: is an error with file:line:col", async () => {
    await expect(load("all:\n  web-1:\n", "hosts.yml")).rejects.toThrow('hosts.yml:2:3: unknown key "web-1" in group "all"');
  });
});

describe("Ansible become variables", () => {
  const inventory = `
[dbservers]
db-1 ansible_become_user=postgres
db-2 ansible_become_method=su
db-3

[dbservers:vars]
ansible_become_user=nobody
ansible_become_method=sudo
`;

  test("ansible_become_user and ansible_become_method become the host's become settings (host vars over group vars), not vars", async () => {
    const hosts = await load(inventory);
    expect(hosts.get("db-1")!.become).toEqual({ user: "postgres", method: "sudo" });
    expect(hosts.get("db-2")!.become).toEqual({ user: "nobody", method: "su" });
    expect(hosts.get("db-3")!.become).toEqual({ user: "nobody", method: "sudo" });
    expect(hosts.get("db-1")!.vars).not.toHaveProperty("ansible_become_user");
    expect((await load("web-1\n")).get("web-1")!.become).toBeUndefined();
  });

  test("a method opskit does not run, or a user that is not a user name, is an error with file:line", async () => {
    await expect(load("db-1 ansible_become_method=pbrun\n")).rejects.toThrow('inventory:1: ansible_become_method "pbrun" of db-1 is not one opskit runs');
    await expect(load("db-1 ansible_become_user='root;reboot'\n")).rejects.toThrow('ansible_become_user "root;reboot" of db-1 is not a user name');
  });
});
