// A real wsloop process for the client's tests: built once per test
// process (or taken from $WSLOOP_BIN), started on loopback ports, with
// its admin endpoint for publishing.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "wsloop-js-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

let binary = process.env.WSLOOP_BIN;

/** @returns {string} the wsloop binary, built on first use */
export function wsloopBinary() {
  if (!binary) {
    binary = join(tmp, "wsloop");
    execFileSync("go", ["build", "-o", binary, "./cmd/wsloop"], { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  }
  return binary;
}

/**
 * Writes an HS256 secret file for -jwt-secret-file.
 * @param {string} secret
 * @returns {string} its path
 */
export function secretFile(secret) {
  const path = join(tmp, `secret-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, secret);
  return path;
}

const LISTENING = /msg=listening addr=(\S+) .*admin=(\S+)/;
const START_TIMEOUT = 20000;

/**
 * A running wsloop -mode pubsub. start() and restart() resolve once it
 * logs "listening"; stop() once it exited.
 */
export class Wsloop {
  /**
   * @param {string[]} [args] extra flags (e.g. -jwt-secret-file F)
   */
  constructor(args = []) {
    this.args = args;
    this.addr = "127.0.0.1:0";
    this.adminAddr = "127.0.0.1:0";
    this.proc = null;
    this.log = "";
  }

  /** @returns {string} the WebSocket URL */
  get url() {
    return `ws://${this.addr}/`;
  }

  /** Starts the process (on the previous ports after a stop). */
  start() {
    const proc = spawn(wsloopBinary(), ["-addr", this.addr, "-mode", "pubsub", "-admin", this.adminAddr, ...this.args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once("exit", resolve));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`wsloop did not start:\n${this.log}`)), START_TIMEOUT);
      proc.stderr.setEncoding("utf8");
      proc.stderr.on("data", (chunk) => {
        this.log += chunk;
        const m = LISTENING.exec(this.log);
        if (m && this.proc === proc && proc.listening !== true) {
          proc.listening = true;
          clearTimeout(timer);
          this.addr = m[1];
          this.adminAddr = m[2];
          resolve(this);
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`wsloop exited (${code}):\n${this.log}`));
      });
    });
  }

  /** Stops the process (SIGTERM; SIGKILL when kill is true). */
  async stop(kill = false) {
    if (!this.proc) return;
    this.proc.kill(kill ? "SIGKILL" : "SIGTERM");
    await this.exited;
    this.proc = null;
  }

  /** Stops and starts again on the same ports: a new in-process broker, so new epochs. */
  async restart() {
    await this.stop(true);
    this.log = "";
    return this.start();
  }

  /**
   * Publishes through the admin endpoint (POST /publish/{topic}).
   * @param {string} topic
   * @param {string} body
   * @param {Record<string, string>} [query] e.g. {key: "AAPL"}
   * @returns {Promise<{topic: string, epoch: string, seq: number}>}
   */
  async publish(topic, body, query = {}) {
    const q = new URLSearchParams(query).toString();
    const res = await fetch(`http://${this.adminAddr}/publish/${encodeURIComponent(topic)}${q ? "?" + q : ""}`, {
      method: "POST",
      body,
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`publish ${topic}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
}
