// adsctl dashboard: progressive enhancement of the server-rendered page (src/reconcile/page.rs).
// Without this script the page is complete: it reloads itself and the actions are plain form posts.
// With it: the quick actions run in place with the operator token of this tab (sessionStorage, sent as a bearer
// header, never a cookie), their results are announced in the card's live region, the token countdowns tick,
// and the cards refresh every 15 s without a reload. No external URL, no inline script (the page's CSP).
"use strict";
(function () {
  var KEY = "adsctl-api-token";
  var busy = 0;

  function token() {
    try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  function setResult(el, text, ok) {
    el.textContent = text;
    el.className = "result " + (ok ? "ok" : "bad");
  }

  function headers() {
    var h = { "Accept": "application/json" };
    var t = token();
    if (t) { h["Authorization"] = "Bearer " + t; }
    return h;
  }

  function describeError(status, body) {
    var msg = (body && body.error) ? body.error : ("HTTP " + status);
    if (body && body.hint) { msg += " (hint: " + body.hint + ")"; }
    return msg;
  }

  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // Follow a reconcile's run until it ends.
  function followRun(href, out) {
    var tries = 0;
    function poll() {
      return fetch(href, { headers: headers(), credentials: "omit" }).then(function (r) {
        return r.json().then(function (b) { return { r: r, b: b }; });
      }).then(function (x) {
        if (!x.r.ok) { setResult(out, describeError(x.r.status, x.b), false); return; }
        var st = x.b.status;
        if (st === "queued" || st === "running") {
          setResult(out, "Reconcile " + st + " (run " + x.b.id + ")…", true);
          if (++tries > 600) { return; }
          return wait(500).then(poll);
        }
        var ok = st === "succeeded";
        setResult(out, "Reconcile " + st + (x.b.result ? ": " + x.b.result : "") + " (run " + x.b.id + ")", ok);
        return refresh();
      });
    }
    return poll();
  }

  function describe(action, body) {
    switch (action) {
      case "validate":
        return (body.ok === false ? "Validation failed" : "Validated") + ": token " + (body.token ? body.token.status : "unknown");
      case "refresh":
        if (body.ok === false) { return "Refresh failed"; }
        return "Token refreshed" + (body.token && body.token.expires_at ? ", expires " + body.token.expires_at : "");
      case "disconnect":
        return (body.removed ? "Disconnected: credentials removed" : "Disconnected: nothing was stored") +
          (body.revoked ? " and revoked at the platform" : "") +
          (body.revoke_error ? " (revoke failed: " + body.revoke_error + ")" : "");
      default: return "Done";
    }
  }

  function runAction(form) {
    var action = form.getAttribute("data-action");
    var card = form.closest("section");
    var out = card ? card.querySelector(".result") : null;
    var confirmText = form.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) { return; }
    var button = form.querySelector("button");
    button.disabled = true;
    busy++;
    if (out) { setResult(out, button.textContent + "…", true); }
    fetch(form.action, { method: "POST", headers: headers(), credentials: "omit" }).then(function (r) {
      return r.text().then(function (t) {
        var b = null;
        try { b = JSON.parse(t); } catch (e) { b = null; }
        return { r: r, b: b };
      });
    }).then(function (x) {
      if (!x.r.ok) { if (out) { setResult(out, describeError(x.r.status, x.b), false); } return; }
      if (x.b && x.b.ok === false) {
        if (out) { setResult(out, describe(action, x.b) + ": " + describeError(x.r.status, x.b.error), false); }
        return refresh();
      }
      if (action === "reconcile" && x.b && x.b.href) { return followRun(x.b.href, out); }
      if (action === "connect" && x.b && x.b.authorization_url) {
        if (out) { setResult(out, "Opening the platform's consent page…", true); }
        window.location.assign(x.b.authorization_url);
        return;
      }
      if (out) { setResult(out, describe(action, x.b || {}), true); }
      return refresh();
    }).catch(function (e) {
      if (out) { setResult(out, "The daemon could not be reached: " + e, false); }
    }).then(function () {
      button.disabled = false;
      busy--;
    });
  }

  // Replace the platform cards and each account card's body with a fresh rendering of the page; the actions and
  // their live regions stay (a result being read is not wiped).
  function refresh() {
    return fetch(window.location.pathname, { credentials: "omit" }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById("platforms");
      var mine = document.getElementById("platforms");
      if (fresh && mine) { mine.replaceWith(fresh); }
      var cfg = doc.getElementById("config");
      var myCfg = document.getElementById("config");
      if (cfg && myCfg) { myCfg.replaceWith(cfg); }
      doc.querySelectorAll("section.card").forEach(function (c) {
        var name = c.getAttribute("data-account");
        var current = Array.prototype.find.call(document.querySelectorAll("section.card"), function (x) {
          return x.getAttribute("data-account") === name;
        });
        if (!current) { return; }
        current.className = c.className;
        var parts = ["header", ".body"];
        parts.forEach(function (sel) {
          var a = current.querySelector(sel), b = c.querySelector(sel);
          if (a && b) { a.replaceWith(b); }
        });
      });
      tick();
    }).catch(function () { /* the next refresh tries again */ });
  }

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  // "expires in 2 d 03:04:05" / "expired 3 min ago"
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (t) {
      var end = Date.parse(t.getAttribute("datetime"));
      if (isNaN(end)) { return; }
      var s = Math.round((end - now) / 1000);
      if (s <= 0) {
        var a = -s;
        t.textContent = "expired " + (a < 60 ? a + " s" : a < 3600 ? Math.floor(a / 60) + " min" : a < 86400 ? Math.floor(a / 3600) + " h" : Math.floor(a / 86400) + " d") + " ago";
        return;
      }
      var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
      t.textContent = "expires in " + (d > 0 ? d + " d " : "") + pad(h) + ":" + pad(m) + ":" + pad(sec);
    });
  }

  function showTokenState() {
    var st = document.getElementById("token-state");
    if (st) { st.textContent = token() ? "A token is set for this tab." : "No token set: actions go without one."; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var bar = document.getElementById("tokenbar");
    if (bar) {
      bar.hidden = false;
      bar.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var input = document.getElementById("api-token");
        try { sessionStorage.setItem(KEY, input.value.trim()); } catch (e) { /* private mode: nothing kept */ }
        input.value = "";
        showTokenState();
      });
      document.getElementById("token-forget").addEventListener("click", function () {
        try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
        showTokenState();
      });
      showTokenState();
    }
    document.addEventListener("submit", function (ev) {
      var form = ev.target;
      if (!form.hasAttribute || !form.hasAttribute("data-action")) { return; }
      ev.preventDefault();
      runAction(form);
    });
    tick();
    setInterval(tick, 1000);
    setInterval(function () { if (busy === 0) { refresh(); } }, 15000);
  });
})();
