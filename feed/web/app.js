// wsloop live feed: subscribes to md.all over the wsloop.json protocol and
// keeps a ticker table updated in place. It checks that every message's
// sequence number follows the last one in its epoch (the gap counter) and,
// after a disconnect, resubscribes from its last position: the server
// replays what was missed ("recovered") or, when that is no longer in the
// topic's history or the epoch changed, answers "failed" and the page
// starts afresh from the live stream.
"use strict";
(() => {
  const TOPIC = "md.all";
  const MIN_DELAY = 250, MAX_DELAY = 5000; // reconnect backoff, ms
  const el = (id) => document.getElementById(id);
  const rows = new Map(); // symbol -> {tr, px, chg, at}
  let pos = null; // {epoch, seq} of the last message seen
  let count = 0, gaps = 0, reconnects = 0, delay = 0;

  function setState(s) {
    const e = el("state");
    e.textContent = s;
    e.dataset.state = s;
  }

  function showCounters() {
    el("count").textContent = count;
    el("gaps").textContent = gaps;
    el("gaps").toggleAttribute("data-bad", gaps > 0);
    el("reconnects").textContent = reconnects;
    el("position").textContent = pos ? pos.epoch.slice(0, 8) + "…/" + pos.seq : "–";
  }

  function setRecovery(result, text) {
    const e = el("recovery");
    e.dataset.result = result;
    e.textContent = text;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/", "wsloop.json");
    ws.onopen = () => {
      setState("open");
      const req = { op: "subscribe", topic: TOPIC, id: 1 };
      if (pos) req.since = pos;
      ws.send(JSON.stringify(req));
    };
    ws.onmessage = (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (m.op === "msg") onMessage(m);
      else if (m.op === "subscribed") onSubscribed(m);
      else if (m.op === "error") setRecovery("error", m.code + ": " + m.message);
    };
    ws.onclose = () => {
      setState("reconnecting");
      delay = Math.min(MAX_DELAY, delay ? delay * 2 : MIN_DELAY);
      setTimeout(() => {
        reconnects++;
        showCounters();
        connect();
      }, delay * (0.5 + Math.random() / 2));
    };
  }

  function onSubscribed(m) {
    delay = 0;
    if (m.recovery === "ok") {
      setRecovery("ok", "recovered from seq " + m.seq);
    } else if (m.recovery === "failed") {
      // The missed updates are gone: mark every row stale until the live
      // stream refreshes it (a ticker's fresh snapshot).
      setRecovery("failed", "recovery failed → fresh snapshot");
      for (const r of rows.values()) r.tr.classList.add("stale");
    }
    pos = { epoch: m.epoch, seq: m.seq };
    showCounters();
  }

  function onMessage(m) {
    if (m.topic !== TOPIC) return;
    if (pos && (m.epoch !== pos.epoch || m.seq !== pos.seq + 1)) gaps++;
    pos = { epoch: m.epoch, seq: m.seq };
    count++;
    if (m.data && typeof m.data.sym === "string") update(m.data);
    showCounters();
  }

  function update(d) {
    let r = rows.get(d.sym);
    if (!r) r = addRow(d.sym);
    const prev = r.last;
    r.last = d.px;
    r.px.textContent = d.px.toFixed(2);
    r.chg.textContent = (d.chg > 0 ? "+" : "") + d.chg.toFixed(2);
    r.chg.classList.toggle("pos", d.chg > 0);
    r.chg.classList.toggle("neg", d.chg < 0);
    r.at.textContent = new Date(d.ts).toLocaleTimeString();
    r.tr.classList.remove("up", "down", "stale");
    if (prev !== undefined && prev !== d.px) {
      void r.tr.offsetWidth; // restart the flash animation
      r.tr.classList.add(d.px > prev ? "up" : "down");
    }
  }

  function addRow(sym) {
    const tr = document.createElement("tr");
    tr.dataset.sym = sym;
    const cell = (cls) => {
      const td = document.createElement("td");
      if (cls) td.className = cls;
      tr.appendChild(td);
      return td;
    };
    cell("sym").textContent = sym;
    const r = { tr, px: cell("px"), chg: cell("chg"), at: cell("at"), last: undefined };
    const body = el("rows");
    let before = null;
    for (const other of body.children) {
      if (other.dataset.sym > sym) {
        before = other;
        break;
      }
    }
    body.insertBefore(tr, before);
    rows.set(sym, r);
    return r;
  }

  connect();
})();
